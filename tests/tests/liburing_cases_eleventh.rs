//! An eleventh batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing, read at commit 27255f4c) to
//! uring's API, for cases the other `liburing_cases*.rs` leave out (found
//! by listing the setup flags and arguments each C file's `main` runs its
//! cases with against the doc comments near each mention of the file in
//! `tests/tests`, and by the "left out" notes of the earlier batches):
//!
//! - `connect.c`: `test_connect_with_no_peer`, `test_connect` (inline and
//!   `ASYNC`) and `test_connect_timeout` on the SQPOLL and
//!   deferred-task-work rings its `main` runs them on;
//! - `bind-listen.c`: `test_good_server` on an SQPOLL ring;
//! - `msg-ring-flags.c`: the message with `IORING_MSG_RING_FLAGS_PASS` to a
//!   deferred-task-work ring another thread owns and waits on;
//! - `msg-ring.c`: `test_own` and `test_own_sync` on its IOPOLL ring,
//!   `test_invalid` through a fixed file;
//! - `shutdown.c`: the `WRITEV` after `SHUTDOWN(SHUT_WR)` (`EPIPE`);
//! - `poll-mshot-update.c`: `run`, many multishot polls whose events are
//!   updated in batches while a thread writes to random pipes; what an
//!   update's `IORING_POLL_ADD_MULTI` does (nothing, on 6.18), against
//!   `io_uring_prep_poll_update(3)` and uring's own doc; and the
//!   `EALREADY` an update or a removal of a poll that a wake-up owns
//!   completes with (`io_uring_prep_poll_remove(3)` and
//!   `io_uring_prep_poll_update(3)` list it), which uring's docs now
//!   state too (they said an update's `MULTI` kept a poll polling, and
//!   named 0 and `ENOENT` alone);
//! - `send_recvmsg.c`: the runs whose `RECVMSG` selects a provided buffer
//!   (legacy or ring), or finds none;
//! - `open-close.c`: the `CLOSE`s of `test_close_fixed` the typed `Close`
//!   cannot express (no table, a descriptor and a slot at once, a slot
//!   past the table);
//! - `regbuf-clone.c`: `test_same`, a ring's buffers cloned into itself;
//! - `read-mshot.c`: `test`, its sixteen combinations.
//!
//! Each test names its C file and case and asserts what the C test asserts
//! of the kernel (results, errnos, order, counts, flags), and more where it
//! is cheap (the bytes moved and where they landed, buffer ids, how many
//! events each poll posted, what is left in pipes).
//!
//! Read against Linux 6.18's `io_uring/poll.c` (`io_poll_remove`: an
//! update finds the poll by `user_data` and disarms it, `-EALREADY` if a
//! wake-up owns it; `IORING_POLL_UPDATE_EVENTS` replaces only the low 16
//! event bits, so a multishot poll stays multishot; the poll is armed again
//! through `io_poll_add`, and an edge-triggered poll whose file is ready
//! posts an event at once), `io_uring/msg_ring.c` (a target with deferred
//! task work gets a message as task work of its own task; posting into an
//! IOPOLL ring takes its lock, tried only when the sender holds its own,
//! else the message is retried from io-wq; `io_msg_ring_prep` and a
//! target file that is no ring, `EBADFD`), `io_uring/openclose.c`
//! (`io_close_prep`: a descriptor and a slot at once, `EINVAL`;
//! `io_fixed_fd_remove`: no table, `ENXIO`, a slot past it, `EINVAL`),
//! `io_uring/rsrc.c` (`io_register_clone_buffers`: the source may be the
//! ring itself, under the one lock it holds), `io_uring/rw.c`
//! (`io_read_mshot`: a read whose completion finds the CQ full ends the
//! multishot read, its last completion going to the overflow list),
//! `io_uring/kbuf.c` (`io_buffer_select`: none left, `ENOBUFS`),
//! `io_uring/net.c` (`io_connect`, `io_shutdown`, `io_recvmsg`) and
//! `io_uring/timeout.c` (link timeouts); `fs/pipe.c` (`pipe_write`: one
//! wake-up of the readers per write) and `net/ipv4/tcp_input.c`
//! (`tcp_conn_request`: a SYN to a listener whose accept queue is full is
//! dropped, so the connect stalls).
//!
//! Where the C test reaches the kernel in a way uring refuses on purpose,
//! or cannot express (a `MSG_RING` through a fixed file, a `RECVMSG` that
//! selects a buffer, a `CLOSE` of a descriptor and a slot at once, a clone
//! of a ring's buffers into itself), the port writes the SQE by hand
//! through `push_raw`, or makes the register call through `uring::sys`,
//! and says why. Loop counts of the stress cases are scaled down (each
//! test says by how much).

use std::io::{IoSlice, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use uring::ops::{
    Accept, Bind, Connect, FixedFdInstall, LinkTimeout, Listen, MsgRing, PollAdd, PollUpdate, Recv,
    Send, Shutdown, Socket, WriteV,
};
use uring::{DirectSlot, PollEvents, PollFlags, Ring, SockAddr, SqeFlags};
use uring_tests::{
    PATIENCE, RingKind, complete, pairs, pipe, push_lent, require_op, skip, stray, tcp_pair,
};

// ---------------------------------------------------------------- helpers

/// Takes ownership of a descriptor an op returned.
fn owned(fd: i32) -> OwnedFd {
    assert!(fd >= 0, "not a descriptor: {fd}");
    // SAFETY: the kernel just returned this descriptor to this process, and
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A TCP socket of 127.0.0.1 bound to a free port, not listening, and its
/// address (connect.c `block_port`).
fn bound_not_listening() -> (OwnedFd, SocketAddr) {
    let fd = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let addr = SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0)));
    // SAFETY: `addr` points to `addr.len()` bytes of a valid sockaddr.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len()) };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    let at = uring_tests::local_addr(fd.as_fd()).unwrap();
    (fd, at)
}

/// `listen(2)` with `backlog`.
fn listen(fd: &OwnedFd, backlog: i32) {
    // SAFETY: listen(2) on a socket this test owns.
    let rc = unsafe { libc::listen(fd.as_raw_fd(), backlog) };
    assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
}

/// The pending error of a socket (`SO_ERROR`).
fn so_error(fd: &OwnedFd) -> i32 {
    let mut code = 0i32;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an open socket, an int and its length to fill.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut code as *mut i32).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    code
}

/// `poll(2)` of one descriptor for `events`, for up to [`PATIENCE`]:
/// the events seen (connect.c `wait_for`).
fn poll_fd(fd: &OwnedFd, events: i16) -> i16 {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, alive for the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, PATIENCE.as_millis() as i32) };
    assert_eq!(rc, 1, "poll: {rc} {}", std::io::Error::last_os_error());
    pfd.revents
}

/// A ring of `kind` with 8 SQEs (connect.c's `io_uring_queue_init(8)`), or
/// `None` with a skip message.
fn ring8(kind: RingKind) -> Option<Ring> {
    uring_tests::ring_of_kind(kind, 8, 16)
}

// ---------------------------------------------------------------- connect.c

/// connect.c `test_connect_with_no_peer`, `test_connect` (inline and
/// `IOSQE_ASYNC`) and `test_connect_timeout`, on each ring its `main` runs
/// them on: a plain ring (ported already, run again for the comparison),
/// an SQPOLL ring and a deferred-task-work ring. A connect to a port
/// bound by a socket that does not listen fails with `ECONNREFUSED`; one
/// to a listener completes with 0 (or, as the C test allows, with
/// `EINPROGRESS`, after which the socket polls writable and its
/// `SO_ERROR` is 0); with the accept queue of a listener of backlog 0
/// filled, a second connect stalls and the 100 µs link timeout bounding it
/// fires (`ETIME`) and cancels it (`ECANCELED`).
#[test]
fn connect_on_sqpoll_and_defer_rings() {
    let _watch = uring_tests::watchdog();
    if std::fs::metadata("/proc/sys/net/ipv4/tcp_syncookies").is_err() {
        // connect.c: "Test reliably fails if syncookies isn't enabled".
        return skip("no /proc/sys/net/ipv4/tcp_syncookies");
    }
    for kind in uring_tests::RING_KINDS {
        let Some(mut ring) = ring8(kind) else {
            continue;
        };
        if !require_op::<Connect<'_>>(&ring) {
            return;
        }

        // test_connect_with_no_peer
        let (_blocker, at) = bound_not_listening();
        let client = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
        let addr = SockAddr::from(at);
        let c = complete(&mut ring, Connect::new(&client, &addr).user_data(1));
        assert_eq!(
            (c.user_data(), c.res()),
            (1, -libc::ECONNREFUSED),
            "{kind:?}: no peer"
        );

        // test_connect, inline and forced to io-wq
        for async_ in [false, true] {
            let (listener, at) = bound_not_listening();
            listen(&listener, 128);
            let client = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
            let addr = SockAddr::from(at);
            let mut op = Connect::new(&client, &addr).user_data(2);
            if async_ {
                op = op.flags(SqeFlags::ASYNC);
            }
            let c = complete(&mut ring, op);
            assert_eq!(c.user_data(), 2);
            let code = if c.res() == -libc::EINPROGRESS {
                let ev = poll_fd(&client, libc::POLLOUT | libc::POLLHUP | libc::POLLERR);
                assert_ne!(ev & (libc::POLLOUT | libc::POLLHUP | libc::POLLERR), 0);
                so_error(&client)
            } else {
                c.res()
            };
            assert_eq!(code, 0, "{kind:?}: connect, async {async_}: {c:?}");
            assert_eq!(
                uring_tests::local_addr(client.as_fd()).unwrap(),
                {
                    // The listener holds the connection: its peer is the
                    // client.
                    let (conn, peer) = TcpListener::from(listener).accept().unwrap();
                    drop(conn);
                    peer
                },
                "{kind:?}: the listener's connection is the client's"
            );
        }

        // test_connect_timeout
        let (listener, at) = bound_not_listening();
        listen(&listener, 0);
        let addr = SockAddr::from(at);
        let first = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
        let c = complete(&mut ring, Connect::new(&first, &addr).user_data(3));
        assert_eq!(c.res(), 0, "{kind:?}: the first connection fills the queue");
        let second = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
        let got = ring.scope(|s| {
            s.push(
                Connect::new(&second, &addr)
                    .user_data(1)
                    .link_timeout(LinkTimeout::new(Duration::from_micros(100)).user_data(2)),
            )
            .unwrap();
            let mut got = pairs(&uring_tests::scope_reap(s, 2));
            got.sort_unstable();
            got
        });
        assert_eq!(
            got,
            [(1, -libc::ECANCELED), (2, -libc::ETIME)],
            "{kind:?}: the stalled connect"
        );
        assert_eq!(stray(&mut ring), [], "{kind:?}");
    }
}

// ---------------------------------------------------------------- bind-listen.c

/// bind-listen.c's `magic`.
const MAGIC: &[u8] = b"Hello World!";

/// bind-listen.c `test_good_server(IORING_SETUP_SQPOLL)` (the plain and
/// deferred-task-work runs are ported in `liburing_cases_seventh.rs`): on
/// an SQPOLL ring, in a sparse table of 3 slots, a TCP socket made direct
/// (slot 0), bound to an ephemeral port and listening, linked; its address
/// (through a descriptor installed from the slot); a client socket made
/// direct (slot 1), connected to it and sending the magic string, linked;
/// an accept into a direct slot (2); the client's peer is the server, on
/// loopback; a receive through slot 2 gets the magic string. Every op
/// succeeds, and the SQ thread runs them all.
#[test]
fn bind_listen_good_server_on_an_sqpoll_ring() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::ring_of_kind(RingKind::Sqpoll, 16, 32) else {
        return;
    };
    if !require_op::<Listen>(&ring) || !require_op::<FixedFdInstall>(&ring) {
        return;
    }
    let table = ring.register_files_sparse(3).unwrap();
    let any = SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0)));
    let server = ring.scope(|s| {
        s.push(
            Socket::new(libc::AF_INET, libc::SOCK_STREAM)
                .direct(DirectSlot::ALLOC)
                .user_data(1)
                .link(Bind::new(table.get(0).unwrap(), &any).user_data(2))
                .link(Listen::new(table.get(0).unwrap(), 1).user_data(3)),
        )
        .unwrap();
        pairs(&uring_tests::scope_reap(s, 3))
    });
    assert_eq!(server, [(1, 0), (2, 0), (3, 0)], "the server");
    let c = complete(
        &mut ring,
        FixedFdInstall::new(table.get(0).unwrap()).user_data(4),
    );
    let port = TcpListener::from(owned(c.res()))
        .local_addr()
        .unwrap()
        .port();
    assert_ne!(port, 0);
    let to = SockAddr::from(SocketAddr::from(([127, 0, 0, 1], port)));
    let client = ring.scope(|s| {
        s.push(
            Socket::new(libc::AF_INET, libc::SOCK_STREAM)
                .direct(DirectSlot::ALLOC)
                .user_data(5)
                .link(Connect::new(table.get(1).unwrap(), &to).user_data(6))
                .link(Send::new(table.get(1).unwrap(), MAGIC).user_data(7)),
        )
        .unwrap();
        pairs(&uring_tests::scope_reap(s, 3))
    });
    assert_eq!(
        client,
        [(5, 1), (6, 0), (7, MAGIC.len() as i32)],
        "the client"
    );
    let c = complete(
        &mut ring,
        Accept::new(table.get(0).unwrap())
            .direct(DirectSlot::ALLOC)
            .user_data(8),
    );
    assert_eq!(c.res(), 2, "the accept: {c:?}");
    let c = complete(
        &mut ring,
        FixedFdInstall::new(table.get(1).unwrap()).user_data(9),
    );
    let peer = TcpStream::from(owned(c.res())).peer_addr().unwrap();
    assert_eq!(peer, SocketAddr::from(([127, 0, 0, 1], port)));
    let mut buf = [0u8; 1024];
    let c = complete(
        &mut ring,
        Recv::new(table.get(2).unwrap(), &mut buf[..]).user_data(10),
    );
    assert_eq!(c.res(), MAGIC.len() as i32, "the receive");
    assert_eq!(&buf[..MAGIC.len()], MAGIC);
    assert_eq!(stray(&mut ring), []);
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------- msg-ring-flags.c

/// msg-ring-flags.c `test`, its last part (the first is ported in
/// `liburing_cases.rs`): a thread makes a deferred-task-work ring of 2
/// entries and waits on it; a message sent to it with
/// `IORING_MSG_RING_FLAGS_PASS` (`res` 0x20, `user_data` 0x5aa5, flags
/// 0x42) from a ring of the flags `main` runs (none, then deferred task
/// work) completes with 0 on the sender, and the waiting thread gets
/// exactly that completion, the flags given and nothing else.
#[test]
fn msg_ring_flags_pass_to_a_defer_ring_waiting_on_another_thread() {
    let _watch = uring_tests::watchdog();
    for kind in [RingKind::Plain, RingKind::Defer] {
        let Some(mut ring) = uring_tests::ring_of_kind(kind, 2, 4) else {
            continue;
        };
        if !require_op::<MsgRing>(&ring) {
            return;
        }
        let (target_tx, target_rx) = std::sync::mpsc::channel::<Option<uring::RingTarget>>();
        let valgrind = uring_tests::under_valgrind();
        let waiter = std::thread::spawn(move || {
            let Some(mut remote) = uring_tests::defer_ring(2) else {
                target_tx.send(None).unwrap();
                return None;
            };
            target_tx.send(Some(remote.msg_target().unwrap())).unwrap();
            if valgrind {
                // Valgrind runs one thread at a time, and not the sender
                // while this one waits in io_uring_enter: here the thread
                // runs its ring's task work (GETEVENTS) between sleeps.
                let end = std::time::Instant::now() + PATIENCE;
                while remote.ready() == 0 {
                    assert!(std::time::Instant::now() < end, "no message");
                    remote.get_events().unwrap();
                    std::thread::sleep(Duration::from_millis(1));
                }
            } else {
                remote.wait_timeout(1, PATIENCE).unwrap();
            }
            let mut got: Vec<(u64, i32, u32)> = remote
                .completions()
                .map(|c| (c.user_data(), c.res(), c.flags()))
                .collect();
            // Nothing more comes.
            let _ = remote.wait_timeout(1, Duration::from_millis(30));
            got.extend(
                remote
                    .completions()
                    .map(|c| (c.user_data(), c.res(), c.flags())),
            );
            Some(got)
        });
        let Some(remote) = target_rx.recv().unwrap() else {
            waiter.join().unwrap();
            return;
        };
        let c = complete(
            &mut ring,
            MsgRing::new(&remote, 0x20, 0x5aa5)
                .cqe_flags(0x42)
                .user_data(1),
        );
        if c.res() == -libc::EINVAL {
            skip("no IORING_MSG_RING_FLAGS_PASS (6.3)");
            // A message without flags lets the waiting thread end.
            let c = complete(&mut ring, MsgRing::new(&remote, 0, 0).user_data(2));
            assert_eq!(c.res(), 0);
            drop(remote);
            waiter.join().unwrap();
            return;
        }
        assert_eq!((c.user_data(), c.res()), (1, 0), "{kind:?}: the sender");
        let got = waiter.join().unwrap().unwrap();
        assert_eq!(got, [(0x5aa5, 0x20, 0x42)], "{kind:?}: the target");
        drop(remote);
    }
}

// ---------------------------------------------------------------- shutdown.c

/// shutdown.c: on a connected TCP socket (`TCP_NODELAY`), a
/// `SHUTDOWN(SHUT_WR)` completes with 0; a `WRITEV` of 128 bytes after it
/// fails with `EPIPE` (the C test installs a `SIGPIPE` handler; Rust
/// programs ignore the signal). The port adds that the peer reads end of
/// stream, and nothing of the failed write; and runs the write inline and
/// forced to io-wq.
#[test]
fn shutdown_then_writev_is_epipe() {
    let _watch = uring_tests::watchdog();
    for async_ in [false, true] {
        let mut ring = Ring::new(32).unwrap();
        let (client, mut server) = tcp_pair();
        client.set_nodelay(true).unwrap();
        let c = complete(
            &mut ring,
            Shutdown::new(&client, libc::SHUT_WR).user_data(1),
        );
        if c.res() == -libc::EINVAL {
            return skip("no IORING_OP_SHUTDOWN (5.11)");
        }
        assert_eq!((c.user_data(), c.res()), (1, 0), "the shutdown");
        let send_buff = [0x5au8; 128];
        let iov = [IoSlice::new(&send_buff)];
        let mut op = WriteV::new(&client, &iov).user_data(2);
        if async_ {
            op = op.flags(SqeFlags::ASYNC);
        }
        let c = complete(&mut ring, op);
        assert_eq!(
            (c.user_data(), c.res()),
            (2, -libc::EPIPE),
            "the write after the shutdown, async {async_}"
        );
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"", "the peer reads end of stream, async {async_}");
        // The other direction still works.
        server.write_all(b"back").unwrap();
        let mut back = [0u8; 4];
        let c = complete(&mut ring, Recv::new(&client, &mut back[..]).user_data(3));
        assert_eq!((c.res(), &back), (4, b"back"));
    }
}

// ---------------------------------------------------------------- poll-mshot-update.c

/// The scale of the poll-mshot-update.c port: pipes, pipes written (and
/// polls updated) per round, rounds. The C test has 5000, 500 and 1000.
const MSHOT_FILES: usize = 1000;
const MSHOT_BATCH: usize = 100;
const MSHOT_LOOPS: usize = 10;
/// The `user_data` of the C test's updates.
const UPDATE_UD: u64 = 0x1234_5678;

/// A small generator of pseudo-random numbers (the C test's `rand()`).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// One run of poll-mshot-update.c `run(cqe)`: `MSHOT_FILES` pipes (read
/// ends non-blocking), each with a multishot poll for `POLLIN` whose
/// `user_data` is its index, armed in batches of the ring's 512 SQEs. Each
/// round, a thread writes one byte to each of `MSHOT_BATCH` distinct pipes
/// picked at random, while the ring submits `MSHOT_BATCH` updates of the
/// events (`IORING_POLL_UPDATE_EVENTS`, `POLLIN`) of the polls 0 to
/// `MSHOT_BATCH - 1`, and reaps: an event without `F_MORE` re-arms its
/// poll, as the C test does; an event is followed by a read of the pipe's
/// byte. The round ends when every update has completed and every pipe
/// written has posted an event and been read.
///
/// Asserted, beyond the C test's count of `2 * BATCH` completions a round:
/// each update completes once, with 0, or `EALREADY` when a wake-up owns
/// the poll at that moment (never `ENOENT`: every poll stays armed); every
/// event carries `POLLIN` and `F_MORE` (an update of the events alone keeps
/// a multishot poll multishot, and the CQ never fills); a pipe posts one
/// event per byte written to it, and one more at most per update (an
/// update arms the poll again, and an edge-triggered poll whose pipe still
/// holds the byte posts at once); a pipe never written posts nothing.
fn poll_mshot_update_run(cq_entries: u32) {
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..MSHOT_FILES)
        .map(|_| {
            let (rx, tx) = pipe();
            // SAFETY: F_SETFL on a descriptor this test owns.
            let rc = unsafe { libc::fcntl(rx.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
            assert_eq!(rc, 0);
            (rx, tx)
        })
        .collect();
    // Dropped before the pipes (declared after them), also on a panic.
    let Some(mut ring) = uring_tests::ring_of_kind(RingKind::Plain, 512, cq_entries) else {
        return;
    };
    let arm = |ring: &mut Ring, off: usize| {
        // The pipes outlive the ring (dropped before them, below), which
        // cancels the polls still armed.
        push_lent!(
            ring,
            PollAdd::new(&pipes[off].0, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(off as u64)
        )
        .unwrap();
    };
    for chunk in (0..MSHOT_FILES).collect::<Vec<_>>().chunks(512) {
        for &off in chunk {
            arm(&mut ring, off);
        }
        assert_eq!(ring.submit().unwrap() as usize, chunk.len());
    }
    let valgrind = uring_tests::under_valgrind();
    let mut rng = Lcg(0x5eed ^ u64::from(cq_entries));
    let mut writes = vec![0usize; MSHOT_FILES];
    let mut events = vec![0usize; MSHOT_FILES];
    let mut rearms = 0usize;
    let mut updates = Vec::new();
    for round in 0..MSHOT_LOOPS {
        let mut targets = Vec::with_capacity(MSHOT_BATCH);
        let mut picked = vec![false; MSHOT_FILES];
        while targets.len() < MSHOT_BATCH {
            let off = rng.below(MSHOT_FILES);
            if !picked[off] {
                picked[off] = true;
                targets.push(off);
            }
        }
        for &off in &targets {
            writes[off] += 1;
        }
        let mut unread: std::collections::HashSet<usize> = targets.iter().copied().collect();
        let mut round_updates = 0;
        std::thread::scope(|t| {
            let writers = &pipes;
            let targets = &targets;
            t.spawn(move || {
                for &off in targets {
                    let n = write_fd(&writers[off].1, &[89]);
                    assert_eq!(n, 1, "write to pipe {off}");
                }
            });
            for i in 0..MSHOT_BATCH {
                ring.push(
                    PollUpdate::new(i as u64)
                        .events(PollEvents::IN)
                        .user_data(UPDATE_UD),
                )
                .unwrap();
            }
            assert_eq!(ring.submit().unwrap() as usize, MSHOT_BATCH);
            let end = std::time::Instant::now() + PATIENCE;
            while round_updates < MSHOT_BATCH || !unread.is_empty() {
                assert!(
                    std::time::Instant::now() < end,
                    "round {round}: {round_updates} updates, unread pipes {unread:?}"
                );
                if valgrind {
                    // Valgrind runs one thread at a time, and not the
                    // writer while this one waits in io_uring_enter: here
                    // the ring is only peeked at, between sleeps.
                    ring.submit().unwrap();
                    if ring.ready() == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                } else {
                    let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(100));
                }
                let cqes: Vec<uring::Cqe> = ring.completions().collect();
                for cqe in cqes {
                    if cqe.user_data() == UPDATE_UD {
                        round_updates += 1;
                        updates.push(cqe.res());
                        continue;
                    }
                    let off = cqe.user_data() as usize;
                    assert!(off < MSHOT_FILES, "{cqe:?}");
                    events[off] += 1;
                    assert!(
                        cqe.res() & libc::POLLIN as i32 != 0,
                        "round {round}: pipe {off}: {cqe:?}"
                    );
                    if !cqe.has_more() {
                        // The C test re-arms; counted, and asserted below.
                        rearms += 1;
                        arm(&mut ring, off);
                    }
                    let mut c = [0u8; 1];
                    // SAFETY: a read into a byte of this frame from a pipe
                    // this test owns.
                    let n =
                        unsafe { libc::read(pipes[off].0.as_raw_fd(), c.as_mut_ptr().cast(), 1) };
                    if n == 1 {
                        assert_eq!(c[0], 89);
                        assert!(
                            unread.remove(&off),
                            "round {round}: a byte in pipe {off}, which was not written"
                        );
                    } else {
                        let err = std::io::Error::last_os_error();
                        assert_eq!(
                            (n, err.raw_os_error()),
                            (-1, Some(libc::EAGAIN)),
                            "round {round}: pipe {off}"
                        );
                    }
                }
            }
        });
        assert_eq!(round_updates, MSHOT_BATCH, "round {round}");
    }
    // Late events of the last updates.
    let _ = ring.wait_timeout(1, Duration::from_millis(50));
    for cqe in ring.completions() {
        let off = cqe.user_data() as usize;
        assert!(off < MSHOT_FILES, "{cqe:?}");
        assert!(
            cqe.has_more() && cqe.res() & libc::POLLIN as i32 != 0,
            "{cqe:?}"
        );
        events[off] += 1;
    }
    eprintln!(
        "CQ {cq_entries}: {} events for {} writes, {} updates EALREADY",
        events.iter().sum::<usize>(),
        writes.iter().sum::<usize>(),
        updates.iter().filter(|&&r| r != 0).count()
    );
    assert_eq!(rearms, 0, "a multishot poll ended");
    assert_eq!(updates.len(), MSHOT_BATCH * MSHOT_LOOPS);
    for res in &updates {
        assert!(
            *res == 0 || *res == -libc::EALREADY,
            "an update completed with {res}"
        );
    }
    for off in 0..MSHOT_FILES {
        let extra = if off < MSHOT_BATCH { MSHOT_LOOPS } else { 0 };
        assert!(
            events[off] >= writes[off] && events[off] <= writes[off] + extra,
            "CQ {cq_entries}: pipe {off}: {} events for {} writes",
            events[off],
            writes[off]
        );
    }
    drop(ring);
    drop(pipes);
}

/// `write(2)` of `bytes` to `fd`; the count written.
fn write_fd(fd: &OwnedFd, bytes: &[u8]) -> isize {
    // SAFETY: `bytes` is valid for reads of its length for the call.
    unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) }
}

/// poll-mshot-update.c: `run(1024)` and `run(8192)` (see
/// [`poll_mshot_update_run`]), with 1000 pipes, 100 writes and updates a
/// round and 10 rounds where the C test has 5000, 500 and 1000.
#[test]
fn poll_mshot_update_many_polls_updated_while_written() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::raise_nofile(2 * MSHOT_FILES as u64 + 512) {
        return skip("RLIMIT_NOFILE cannot be raised for 2000 pipe ends");
    }
    {
        let mut probe = Ring::new(8).unwrap();
        probe
            .push(PollUpdate::new(0).events(PollEvents::IN).user_data(1))
            .unwrap();
        let c = uring_tests::reap_one(&mut probe);
        // has_poll_update: ENOENT where updates exist, EINVAL where not.
        if c.res() == -libc::EINVAL {
            return skip("no poll updates (5.13)");
        }
        assert_eq!(c.res(), -libc::ENOENT, "an update of no poll");
    }
    for cq in [1024, 8192] {
        poll_mshot_update_run(cq);
    }
}

// ---------------------------------------------------------------- msg-ring.c

/// A ring of 8 SQEs made with `IORING_SETUP_IOPOLL` (msg-ring.c's
/// `pring`), plain or with deferred task work (`main` runs `test` with
/// both), or `None` with a skip message.
fn iopoll_ring(defer: bool) -> Option<Ring> {
    let builder = if defer {
        Ring::builder().single_issuer().defer_taskrun()
    } else {
        Ring::builder()
    };
    match builder.iopoll().build(8) {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no IOPOLL ring (defer {defer}): {e}"));
            None
        }
    }
}

/// Waits, up to [`PATIENCE`], for `n` completions on `ring`, submitting
/// what is pushed: on an IOPOLL ring a wait returns with nothing when no
/// polled I/O is in flight, so this waits in short rounds.
fn reap_n(ring: &mut Ring, n: usize) -> Vec<(u64, i32, u32)> {
    let end = std::time::Instant::now() + PATIENCE;
    let mut got = Vec::new();
    ring.submit().unwrap();
    while got.len() < n {
        assert!(
            std::time::Instant::now() < end,
            "{} completions of {n} after {PATIENCE:?}: {got:?}",
            got.len()
        );
        let _ = ring.wait_timeout(1, Duration::from_millis(20));
        got.extend(
            ring.completions()
                .map(|c| (c.user_data(), c.res(), c.flags())),
        );
    }
    got
}

/// msg-ring.c `test_own(&pring, 0)` and `test_own(&pring, 1)`, on the
/// IOPOLL ring of both `test` runs (plain, deferred task work): a
/// `MSG_RING` from an IOPOLL ring to itself completes with 0 and posts
/// `res` 0x10, `user_data` 0x1234 (the kernel takes the target's lock to
/// post into an IOPOLL ring, and, as the sender already holds it, retries
/// the message from io-wq); the same message posted with
/// `IORING_REGISTER_SEND_MSG_RING` (`test_own_sync`) arrives too. Nothing
/// else comes.
#[test]
fn msg_ring_own_iopoll_ring() {
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let Some(mut ring) = iopoll_ring(defer) else {
            continue;
        };
        if !require_op::<MsgRing>(&ring) {
            return;
        }
        // SAFETY: the ring's descriptor stays open while the message is in
        // flight (its completion is reaped below); the message names
        // nothing else.
        let me = unsafe { uring::Fd::borrow_raw(ring.as_raw_fd()) };
        push_lent!(ring, MsgRing::new(me, 0x10, 0x1234).user_data(1)).unwrap();
        let mut got = reap_n(&mut ring, 2);
        got.sort_unstable();
        assert_eq!(
            got,
            [(1, 0, 0), (0x1234, 0x10, 0)],
            "defer {defer}: test_own"
        );

        match ring.post(0x10, 0x1234) {
            Ok(()) => {
                let got = reap_n(&mut ring, 1);
                assert_eq!(got, [(0x1234, 0x10, 0)], "defer {defer}: test_own_sync");
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                skip("no IORING_REGISTER_SEND_MSG_RING (6.13)");
            }
            Err(e) => panic!("defer {defer}: post: {e}"),
        }
        let _ = ring.wait_timeout(1, Duration::from_millis(30));
        assert_eq!(ring.completions().count(), 0, "defer {defer}: a stray");
    }
}

/// msg-ring.c `test_invalid(ring, 1)`, twice, on a plain and on a
/// deferred-task-work ring: a `MSG_RING` naming slot 0 of the ring's
/// fixed-file table (`IOSQE_FIXED_FILE`), which holds a file that is not a
/// ring (the C test registers its standard output; here a pipe), fails with
/// `EBADFD`. The typed `MsgRing` takes its target ring as a descriptor,
/// never as a slot, so the SQE is written by hand.
#[test]
fn msg_ring_to_a_fixed_non_ring_is_ebadfd() {
    let _watch = uring_tests::watchdog();
    for kind in [RingKind::Plain, RingKind::Defer] {
        let Some(mut ring) = ring8(kind) else {
            continue;
        };
        if !require_op::<MsgRing>(&ring) {
            return;
        }
        let (_rx, tx) = pipe();
        for round in 0..2 {
            let table = ring.register_files(&[tx.as_fd()]).unwrap();
            let mut sqe = uring_tests::raw_sqe(
                uring::sys::IORING_OP_MSG_RING,
                0,
                0,
                0,
                uring::sys::IOSQE_FIXED_FILE,
                1,
            );
            sqe.off = uring::sys::io_uring_sqe_off { off: 0x8989 };
            // SAFETY: a MSG_RING naming slot 0 of this ring's table (which
            // holds a pipe) and no memory; the kernel refuses it before
            // it reads anything else.
            unsafe { ring.push_raw(&[sqe]) }.unwrap();
            let got = reap_n(&mut ring, 1);
            assert_eq!(got, [(1, -libc::EBADFD, 0)], "{kind:?}: round {round}");
            ring.unregister_files(table).unwrap();
        }
    }
}

// ---------------------------------------------------------------- send_recvmsg.c

/// send_recvmsg.c's string, with its NUL (the C test sends `sizeof(str)`).
const SR_STR: &[u8] = b"This is a test of sendmsg and recvmsg over io_uring!\0";
/// send_recvmsg.c's `BUF_BGID` and `BUF_BID`.
const SR_BGID: u16 = 10;
const SR_BID: u16 = 89;

/// Where a run of send_recvmsg.c `test` gets its buffer from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SrSource {
    /// `IORING_OP_PROVIDE_BUFFERS` of the 129-byte buffer less one byte
    /// (`buf_select`).
    Legacy,
    /// A provided-buffer ring of one entry holding the 129 bytes
    /// (`buf_ring`).
    Ring,
}

/// One run of send_recvmsg.c `test(buf_select, buf_ring, no_buf_add, 1,
/// async)`: on a ring of one entry, `buf` is provided under group 10 as
/// buffer 89 (unless `no_buf_add`), and a `RECVMSG` on a UDP socket with
/// `IOSQE_BUFFER_SELECT` of that group (one iovec of no base and 128
/// bytes, no name) waits; another ring's `SENDMSG` sends the string.
/// Returns the receive's result and flags, and the buffer.
fn send_recvmsg_selected(source: SrSource, no_buf_add: bool, async_: bool) -> (i32, u32, Vec<u8>) {
    use std::net::UdpSocket;
    use uring::ops::{ProvideBuffers, SendMsg};
    use uring::{BufferGroup, BufferPool, MsgHdr};
    let mut ring = Ring::new(1).unwrap();
    let mut buf = vec![0u8; 129];
    let mut raw_ring = None;
    if !no_buf_add {
        match source {
            SrSource::Ring => {
                let mut br = ring
                    .register_buf_ring_raw(BufferGroup::new(SR_BGID), 1)
                    .unwrap();
                // SAFETY: `buf` outlives the ring (dropped first below) and
                // is not touched until the receive's completion is reaped.
                unsafe { br.add(buf.as_mut_ptr(), buf.len() as u32, SR_BID) }.unwrap();
                br.advance();
                raw_ring = Some(br);
            }
            SrSource::Legacy => {
                let len = buf.len() as u32 - 1;
                push_lent!(
                    ring,
                    ProvideBuffers::new(
                        BufferPool::new(&mut buf[..len as usize], len),
                        BufferGroup::new(SR_BGID)
                    )
                    .start_id(SR_BID)
                    .user_data(0x50)
                )
                .unwrap();
                let c = uring_tests::reap_one(&mut ring);
                assert_eq!((c.user_data(), c.res()), (0x50, 0), "provide");
            }
        }
    }
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut iov = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 128,
    };
    // SAFETY: all-zero bytes are a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    let mut flags = uring::sys::IOSQE_BUFFER_SELECT;
    if async_ {
        flags |= uring::sys::IOSQE_ASYNC;
    }
    let mut sqe = uring_tests::raw_sqe(
        uring::sys::IORING_OP_RECVMSG,
        receiver.as_raw_fd(),
        (&raw mut msg) as u64,
        1,
        flags,
        1,
    );
    sqe.buf = uring::sys::io_uring_sqe_buf { buf_group: SR_BGID };
    // SAFETY: the typed `RecvMsg` receives into the caller's iovecs, never
    // into a selected buffer, so the SQE is written by hand. It names the
    // socket, `msg` and `iov` (which live on this frame until the
    // completion is reaped below) and group 10, whose only buffer is
    // `buf`, alive as long.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = SockAddr::from(receiver.local_addr().unwrap());
    let out = [IoSlice::new(SR_STR)];
    let out_msg = MsgHdr::new(&out).to(&dest);
    let mut send_ring = Ring::new(1).unwrap();
    let c = complete(&mut send_ring, SendMsg::new(&sender, &out_msg).user_data(2));
    assert_eq!(c.res(), SR_STR.len() as i32, "the send");
    ring.wait_timeout(1, PATIENCE).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!(cqe.user_data(), 1);
    let got = (cqe.res(), cqe.flags());
    assert_eq!(stray(&mut ring), []);
    if let Some(br) = raw_ring {
        br.unregister().unwrap();
    }
    drop(ring);
    (got.0, got.1, buf)
}

/// send_recvmsg.c, the runs that select a provided buffer (the others are
/// ported in `liburing_cases_third.rs`): `test(1, 0, 0, 1, a)` (a legacy
/// provided buffer), `test(0, 1, 0, 1, a)` and `test(1, 1, 0, 1, a)` (a
/// buffer ring), inline and `ASYNC`: the `RECVMSG` completes with the
/// string's 53 bytes, flagged `IORING_CQE_F_BUFFER` with buffer id 89, and
/// the buffer holds the string (and nothing past it). `test(1, 0, 1, 1,
/// a)` and `test(1, 1, 1, 1, a)`, with no buffer provided: the receive
/// fails (`ENOBUFS`, where the C test accepts any error).
#[test]
fn send_recvmsg_into_a_selected_buffer() {
    let _watch = uring_tests::watchdog();
    {
        let mut probe = Ring::new(1).unwrap();
        if uring_tests::raw_buf_ring(&mut probe, SR_BGID, 1).is_none() {
            return;
        }
    }
    for async_ in [false, true] {
        for source in [SrSource::Legacy, SrSource::Ring] {
            let (res, flags, buf) = send_recvmsg_selected(source, false, async_);
            let case = format!("{source:?}, async {async_}");
            assert_eq!(res, SR_STR.len() as i32, "{case}");
            assert_ne!(flags & uring::sys::IORING_CQE_F_BUFFER, 0, "{case}");
            assert_eq!(flags >> 16, u32::from(SR_BID), "{case}");
            assert_eq!(&buf[..SR_STR.len()], SR_STR, "{case}");
            assert!(buf[SR_STR.len()..].iter().all(|&b| b == 0), "{case}");

            let (res, flags, buf) = send_recvmsg_selected(source, true, async_);
            assert_eq!((res, flags), (-libc::ENOBUFS, 0), "{case}, no buffer");
            assert!(buf.iter().all(|&b| b == 0), "{case}, no buffer");
        }
    }
}

// ---------------------------------------------------------------- open-close.c

/// A `CLOSE` of descriptor `fd` and fixed slot `slot` (`None` for no slot)
/// at once, written by hand (open-close.c `try_close`:
/// `io_uring_prep_close` and `__io_uring_set_target_fixed_file`); its
/// result.
fn try_close(ring: &mut Ring, fd: i32, slot: Option<u32>, user_data: u64) -> i32 {
    let mut sqe = uring_tests::raw_sqe(uring::sys::IORING_OP_CLOSE, fd, 0, 0, 0, user_data);
    sqe.file = uring::sys::io_uring_sqe_file {
        file_index: slot.map_or(0, |s| s + 1),
    };
    // SAFETY: the typed `Close` names a descriptor or a slot of a table the
    // ring has (a handle of it), never both, never a slot past the table
    // nor one of no table, so the SQE is written by hand. Each of these
    // CLOSEs is refused by the kernel before it looks up `fd` (the
    // descriptors named are 0 and 1 of this process, which stay open), or
    // names a slot of this ring's own table; it names no memory.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    let c = uring_tests::reap_one(ring);
    assert_eq!(c.user_data(), user_data);
    c.res()
}

/// open-close.c `test_close_fixed`, the cases `liburing_cases_third.rs`
/// leaves out (they cannot be written with the typed `Close`): a close of
/// slot 0 on a ring with no table fails with `ENXIO`; a close of
/// descriptor 1 and slot 0 at once with `EINVAL` (before the descriptor is
/// touched: standard output stays open); once a table of a pipe's two
/// ends is registered, a close of slot 2, past its end, with `EINVAL`.
/// The table is unharmed: slot 0 then closes (0), a read through it fails
/// with `EBADF`, slot 1 closes (0), and slot 0 again fails with `EBADF`.
#[test]
fn open_close_fixed_close_errors() {
    use uring::ops::{Close, Read};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let res = try_close(&mut ring, 0, Some(0), 1);
    if res == -libc::EINVAL {
        return skip("no CLOSE of fixed files (5.15)");
    }
    assert_eq!(res, -libc::ENXIO, "slot 0 of no table");
    assert_eq!(
        try_close(&mut ring, 1, Some(0), 2),
        -libc::EINVAL,
        "a descriptor and a slot"
    );
    assert!(uring_tests::fd_is_open(1), "standard output was closed");
    let (rx, tx) = pipe();
    let mut table = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    assert_eq!(
        try_close(&mut ring, 0, Some(2), 3),
        -libc::EINVAL,
        "slot 2 of a table of 2"
    );
    let close = |ring: &mut Ring, table: &mut uring::FixedFiles, slot: u32, ud: u64| {
        complete(ring, Close::new(table.get_mut(slot).unwrap()).user_data(ud)).res()
    };
    assert_eq!(close(&mut ring, &mut table, 0, 4), 0, "slot 0");
    let mut buf = [0u8; 1];
    let c = complete(
        &mut ring,
        Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(5),
    );
    assert_eq!(c.res(), -libc::EBADF, "a read of the closed slot");
    assert_eq!(close(&mut ring, &mut table, 1, 6), 0, "slot 1");
    assert_eq!(
        close(&mut ring, &mut table, 0, 7),
        -libc::EBADF,
        "slot 0 again"
    );
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------- regbuf-clone.c

/// A `READ_FIXED` of `len` bytes of a pipe holding 0xbb bytes into `buf`
/// through registered buffer `index` (regbuf-clone.c `use_buf`): its
/// result.
fn read_fixed_into(ring: &mut Ring, buf: &mut [u8], index: uring::FixedBuf) -> i32 {
    use uring::ops::ReadFixed;
    let (rx, tx) = pipe();
    std::fs::File::from(tx).write_all(&[0xbb; 32]).unwrap();
    let len = buf.len().min(32);
    complete(
        ring,
        ReadFixed::new(&rx, &mut buf[..len], index).user_data(0xf1),
    )
    .res()
}

/// regbuf-clone.c `test_same` (left out by `liburing_cases_seventh.rs`:
/// `Ring::clone_buffers_replace` takes its destination by `&mut` and its
/// source by `&`, which cannot be one ring): a table of an 8 KiB buffer
/// and an empty slot is cloned into the same ring, 2 buffers from source
/// offset 0 to destination offset 1, replacing (`IORING_REGISTER_DST_
/// REPLACE`): the kernel takes it (0, as the C test asserts; Linux 6.18
/// cloning from the ring itself under the one lock it holds), and the
/// buffers then unregister (0). The port adds what the clone did: before
/// it, a fixed read through slot 1 (empty) fails with `EFAULT`; after it,
/// slot 1 holds the buffer of slot 0 (a read into it through slot 1 lands
/// there) and slot 0 still does. The register call is made through
/// `uring::sys` on the ring's descriptor.
#[test]
fn regbuf_clone_same_ring() {
    use std::io::IoSliceMut;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    let mut buf = vec![0u8; 8192];
    // SAFETY: `buf` outlives the registration (unregistered below, before
    // it drops); only the fixed reads below write it, each reaped before
    // the next access.
    let table =
        match unsafe { ring.register_buffer_slots(&[Some(IoSliceMut::new(&mut buf)), None]) } {
            Ok(table) => table,
            Err(e) => return skip(format_args!("no empty buffer slots: {e}")),
        };
    let slot0 = table.get(0).unwrap();
    let slot1 = table.get(1).unwrap();
    assert_eq!(
        read_fixed_into(&mut ring, &mut buf[..32], slot1),
        -libc::EFAULT,
        "slot 1 is empty before the clone"
    );
    let arg = uring::sys::io_uring_clone_buffers {
        src_fd: ring.as_raw_fd() as u32,
        flags: uring::sys::IORING_REGISTER_DST_REPLACE,
        src_off: 0,
        dst_off: 1,
        nr: 2,
        pad: [0; 3],
    };
    // SAFETY: a clone of this ring's own table into itself: it registers
    // no memory the table did not hold (buffer 0, alive until the
    // unregistration below, which drops every slot).
    let r = unsafe {
        uring::sys::io_uring_register(
            ring.as_raw_fd(),
            uring::sys::IORING_REGISTER_CLONE_BUFFERS,
            (&raw const arg).cast(),
            1,
        )
    };
    match r {
        Ok(n) => assert_eq!(n, 0, "the clone"),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            ring.unregister_buffers(table).unwrap();
            return skip(format_args!(
                "no IORING_REGISTER_CLONE_BUFFERS offsets: {e}"
            ));
        }
        Err(e) => panic!("the clone into the same ring: {e}"),
    }
    assert_eq!(read_fixed_into(&mut ring, &mut buf[100..132], slot1), 32);
    assert_eq!(buf[100..132], [0xbb; 32], "a read through slot 1");
    assert_eq!(read_fixed_into(&mut ring, &mut buf[..32], slot0), 32);
    assert_eq!(buf[..32], [0xbb; 32], "a read through slot 0");
    assert!(buf[32..100].iter().all(|&b| b == 0));
    ring.unregister_buffers(table).unwrap();
    uring_tests::complete_nops(&mut ring, 1, 1);
}

// ---------------------------------------------------------------- read-mshot.c

/// read-mshot.c's `NR_BUFS`, `NR_OVERFLOW`, `BUF_SIZE`, `BUF_SIZE_FIRST`
/// and `BUF_BGID`.
const RM_NR_BUFS: usize = 64;
const RM_NR_OVERFLOW: usize = RM_NR_BUFS / 4;
const RM_BUF_SIZE: usize = 32;
const RM_BUF_SIZE_FIRST: usize = 17;
const RM_BGID: u16 = 1;

/// Message `n` of read-mshot.c: `"this is buffer %d\n"`.
fn rm_msg(n: usize) -> Vec<u8> {
    format!("this is buffer {n}\n").into_bytes()
}

/// The bytes waiting in a pipe (`FIONREAD`).
fn pipe_len(fd: &OwnedFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int, which lives here.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

/// One run of read-mshot.c `test(first_good, async, overflow,
/// incremental)`. A ring of 1 SQE whose CQ holds `NR_BUFS + 1` (128) or,
/// with `overflow`, `NR_OVERFLOW` (16); a buffer ring of 64 entries, group
/// 1, holding 64 buffers (ids 1 to 64; the first two of 17 bytes, the
/// others of 32) or, `incremental`, one buffer of 64 × 32 bytes (id 1).
/// With `first_good`, message 0 is in the pipe before the multishot read
/// (length 0: each buffer's own) is armed (`ASYNC` if `async`); then
/// messages follow up to 65 in all. The C test sleeps a millisecond
/// between writes so that the pipe does not merge them; here each write
/// waits until the pipe is empty again (or the read has ended, which
/// leaves it full). Nothing is reaped before the last write.
///
/// Asserted, as the C test does: completion `i` has a buffer, more than 17
/// bytes from the eleventh on, `F_MORE`; with 64 buffers the 65th message
/// finds none (`ENOBUFS`); with a CQ of 16, the read ends (no `F_MORE`) at
/// the completion that finds the CQ full, the 17th, which goes to the
/// overflow list; an incremental buffer is always id 1 and gets the
/// messages one after the other. Beyond it: every completion carries
/// exactly its message, in its own buffer (ids in ring order) or at the
/// right place of the incremental one (flagged `IORING_CQE_F_BUF_MORE`, as
/// the buffer is never used up); nothing comes after the end; what the
/// read did not take is still in the pipe.
fn read_mshot_run(first_good: bool, async_: bool, overflow: bool, incremental: bool) {
    use uring::BufferGroup;
    use uring::ops::ReadMultishot;
    let what = format!(
        "first_good {first_good}, async {async_}, overflow {overflow}, incremental {incremental}"
    );
    let cq = if overflow { RM_NR_OVERFLOW } else { 128 } as u32;
    // Dropped after the ring (declared before it).
    let mut bufs: Vec<Vec<u8>> = if incremental {
        vec![vec![0u8; RM_NR_BUFS * RM_BUF_SIZE]]
    } else {
        (0..RM_NR_BUFS)
            .map(|i| {
                vec![
                    0u8;
                    if i <= 1 {
                        RM_BUF_SIZE_FIRST
                    } else {
                        RM_BUF_SIZE
                    }
                ]
            })
            .collect()
    };
    let mut ring = Ring::builder().cq_entries(cq).build(1).unwrap();
    let br = if incremental {
        ring.register_buf_ring_raw_incremental(BufferGroup::new(RM_BGID), RM_NR_BUFS as u16)
    } else {
        ring.register_buf_ring_raw(BufferGroup::new(RM_BGID), RM_NR_BUFS as u16)
    };
    let mut br = match br {
        Ok(br) => br,
        Err(e) => return skip(format_args!("{what}: no buffer ring: {e}")),
    };
    for (i, b) in bufs.iter_mut().enumerate() {
        // SAFETY: each buffer is a Vec of its own that outlives the ring
        // (declared before it) and is read only once the read has ended
        // and its completions are reaped.
        unsafe { br.add(b.as_mut_ptr(), b.len() as u32, i as u16 + 1) }.unwrap();
    }
    br.advance();
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let total = RM_NR_BUFS + 1;
    let mut next = 0;
    if first_good {
        tx.write_all(&rm_msg(next)).unwrap();
        next += 1;
    }
    let mut op = ReadMultishot::new(&rx, br.group()).user_data(1);
    if async_ {
        op = op.flags(SqeFlags::ASYNC);
    }
    // SAFETY: the pipe and the buffers outlive the ring, dropped (with the
    // read ended or cancelled) before them.
    unsafe { ring.push_unchecked(op) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    // Whether the read has posted a completion without F_MORE (left in
    // the CQ), or one waits in the overflow list.
    let ended = |ring: &mut Ring| {
        let mut seen = [uring::Cqe::default(); 128];
        let n = ring.peek_batch(&mut seen);
        ring.cq_has_overflow() || seen[..n].iter().any(|c| !c.has_more())
    };
    let wait_taken = |ring: &mut Ring, n: usize| {
        let end = std::time::Instant::now() + PATIENCE;
        while pipe_len(&rx) != 0 && !ended(ring) {
            assert!(
                std::time::Instant::now() < end,
                "{what}: message {n} still in the pipe"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    if first_good {
        wait_taken(&mut ring, 0);
    }
    while next < total {
        tx.write_all(&rm_msg(next)).unwrap();
        wait_taken(&mut ring, next);
        next += 1;
    }
    // How many completions come: 64 reads and the 65th message's
    // ENOBUFS; 65 reads into the incremental buffer, which has room for
    // them all (the read stays armed); with a CQ of 16, 16 and the one
    // that finds it full.
    let expect = match (overflow, incremental) {
        (false, _) => total,
        (true, _) => RM_NR_OVERFLOW + 1,
    };
    let mut got: Vec<(i32, u32)> = Vec::new();
    let end = std::time::Instant::now() + PATIENCE;
    while got.len() < expect {
        assert!(std::time::Instant::now() < end, "{what}: {got:?}");
        let _ = ring.wait_timeout(1, Duration::from_millis(50));
        for c in ring.completions() {
            assert_eq!(c.user_data(), 1);
            got.push((c.res(), c.flags()));
        }
    }
    assert_eq!(stray(&mut ring), [], "{what}: after the end");
    assert_eq!(got.len(), expect, "{what}: {got:?}");
    let mut inc_at = 0;
    for (i, &(res, flags)) in got.iter().enumerate() {
        let last = i + 1 == got.len();
        if !overflow && !incremental && last {
            assert_eq!((res, flags), (-libc::ENOBUFS, 0), "{what}: the 65th");
            continue;
        }
        let msg = rm_msg(i);
        assert_eq!(res, msg.len() as i32, "{what}: completion {i}");
        if i > 9 {
            assert!(res > 17, "{what}: completion {i}");
        }
        assert_ne!(flags & uring::sys::IORING_CQE_F_BUFFER, 0, "{what}: {i}");
        let bid = (flags >> 16) as usize;
        assert_eq!(
            flags & uring::sys::IORING_CQE_F_MORE != 0,
            !(overflow && last),
            "{what}: F_MORE of completion {i}"
        );
        if incremental {
            assert_eq!(bid, 1, "{what}: {i}");
            assert_ne!(flags & uring::sys::IORING_CQE_F_BUF_MORE, 0, "{what}: {i}");
            assert_eq!(
                &bufs[0][inc_at..inc_at + msg.len()],
                &msg[..],
                "{what}: {i}"
            );
            inc_at += msg.len();
        } else {
            assert_eq!(bid, i + 1, "{what}: completion {i}");
            assert_eq!(&bufs[i][..msg.len()], &msg[..], "{what}: {i}");
            assert!(bufs[i][msg.len()..].iter().all(|&b| b == 0), "{what}: {i}");
        }
    }
    if incremental {
        assert!(bufs[0][inc_at..].iter().all(|&b| b == 0), "{what}");
    }
    let consumed = if !overflow && !incremental {
        RM_NR_BUFS
    } else {
        expect
    };
    let left: usize = (consumed..total).map(|n| rm_msg(n).len()).sum();
    assert_eq!(pipe_len(&rx), left, "{what}: what the read did not take");
    br.unregister().unwrap();
    drop(ring);
}

/// read-mshot.c `test`, the sixteen runs of its `main` (every combination
/// of `first_good`, `async`, `overflow` and `incremental`): see
/// [`read_mshot_run`].
#[test]
fn read_mshot_test_matrix() {
    let _watch = uring_tests::watchdog();
    {
        let ring = Ring::new(1).unwrap();
        if !require_op::<uring::ops::ReadMultishot>(&ring) {
            return;
        }
    }
    for incremental in [false, true] {
        for overflow in [false, true] {
            for async_ in [false, true] {
                for first_good in [false, true] {
                    read_mshot_run(first_good, async_, overflow, incremental);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- poll update flags

/// Whether a poll of `user_data` 1, armed one-shot (or `multishot`), then
/// updated to `POLLIN` with (`update_multi`) or without `PollFlags::MULTI`,
/// keeps polling: two bytes are written to its pipe, one at a time, each
/// read after its event. Returns the events' `(user_data, F_MORE)`, and
/// the update's result.
fn poll_after_update(multishot: bool, update_multi: bool) -> (i32, Vec<(u64, bool)>) {
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let mut rx_file = std::fs::File::from(rx.try_clone().unwrap());
    let mut ring = Ring::new(8).unwrap();
    let flags = if multishot {
        PollFlags::MULTI
    } else {
        PollFlags::empty()
    };
    push_lent!(
        ring,
        PollAdd::new(&rx, PollEvents::IN)
            .poll_flags(flags)
            .user_data(1)
    )
    .unwrap();
    ring.submit().unwrap();
    let upd_flags = if update_multi {
        PollFlags::MULTI
    } else {
        PollFlags::empty()
    };
    ring.push(
        PollUpdate::new(1)
            .events(PollEvents::IN)
            .poll_flags(upd_flags)
            .user_data(10),
    )
    .unwrap();
    let c = uring_tests::reap_one(&mut ring);
    assert_eq!(c.user_data(), 10);
    let upd = c.res();
    let mut events = Vec::new();
    for _ in 0..2 {
        tx.write_all(b"x").unwrap();
        let _ = ring.wait_timeout(1, Duration::from_millis(200));
        for c in ring.completions() {
            events.push((c.user_data(), c.has_more()));
        }
        let mut b = [0u8; 1];
        rx_file.read_exact(&mut b).unwrap();
    }
    drop(ring);
    (upd, events)
}

/// poll-mshot-update.c's re-arm branch (a completion without `F_MORE`
/// after an update, which `run` re-arms), and liburing's
/// `io_uring_prep_poll_update(3)`, whose `IORING_POLL_ADD_MULTI` "will
/// change the poll request from a singleshot to a multishot request"
/// while the same page says `EPOLLONESHOT` "cannot be modified": on Linux
/// 6.18 an update replaces only the low 16 event bits (`io_poll_remove`,
/// "keep behavior flags"), so a one-shot poll updated with or without
/// `MULTI` posts one event, without `F_MORE`, and nothing for the second
/// byte; a multishot poll updated with or without it posts both, flagged
/// `F_MORE`. Every update completes with 0.
#[test]
fn poll_update_keeps_the_one_shot_bit() {
    let _watch = uring_tests::watchdog();
    for update_multi in [false, true] {
        let (upd, events) = poll_after_update(false, update_multi);
        if upd == -libc::EINVAL {
            return skip("no poll updates (5.13)");
        }
        assert_eq!(upd, 0);
        assert_eq!(
            events,
            [(1, false)],
            "one-shot, update MULTI {update_multi}"
        );
        let (upd, events) = poll_after_update(true, update_multi);
        assert_eq!(upd, 0);
        assert_eq!(
            events,
            [(1, true), (1, true)],
            "multishot, update MULTI {update_multi}"
        );
    }
}

/// On a deferred-task-work ring: a poll of `user_data` 1 (multishot or
/// not) on a pipe; a byte is written, whose wake-up takes the poll and
/// leaves its task work pending (the ring runs it only when it waits);
/// then a `PollUpdate` (events `POLLIN`) or a `PollRemove` of the poll is
/// submitted, without waiting. Returns the update's or removal's result,
/// the poll's completions, and, for a multishot poll, the result of a
/// second removal once the ring has waited.
fn poll_op_on_a_waking_poll(multishot: bool, remove: bool) -> (i32, Vec<(u64, i32, bool)>, i32) {
    use uring::ops::PollRemove;
    let (rx, tx) = pipe();
    let mut tx = std::fs::File::from(tx);
    let Some(mut ring) = uring_tests::defer_ring(8) else {
        return (0, Vec::new(), 0);
    };
    let flags = if multishot {
        PollFlags::MULTI
    } else {
        PollFlags::empty()
    };
    push_lent!(
        ring,
        PollAdd::new(&rx, PollEvents::IN)
            .poll_flags(flags)
            .user_data(1)
    )
    .unwrap();
    ring.submit().unwrap();
    tx.write_all(b"x").unwrap();
    if remove {
        ring.push(PollRemove::new(1).user_data(10)).unwrap();
    } else {
        ring.push(PollUpdate::new(1).events(PollEvents::IN).user_data(10))
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    let mut got = Vec::new();
    let mut res = None;
    let end = std::time::Instant::now() + PATIENCE;
    while res.is_none() || got.is_empty() {
        assert!(std::time::Instant::now() < end, "{res:?} {got:?}");
        let _ = ring.wait_timeout(1, Duration::from_millis(100));
        for c in ring.completions() {
            if c.user_data() == 10 {
                res = Some(c.res());
            } else {
                got.push((c.user_data(), c.res(), c.has_more()));
            }
        }
    }
    let mut again = 0;
    if multishot {
        ring.push(PollRemove::new(1).user_data(11)).unwrap();
        let mut rest = uring_tests::submit_and_reap(&mut ring, 2)
            .iter()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>();
        rest.sort_unstable();
        assert_eq!(rest[0], (1, -libc::ECANCELED), "the second removal");
        again = rest[1].1;
    }
    assert_eq!(stray(&mut ring), []);
    (res.unwrap(), got, again)
}

/// What poll-mshot-update.c's updates may complete with (the C test reads
/// no update's result): on Linux 6.18 an update, or a removal, of a poll
/// whose wake-up owns it fails with `EALREADY` (`io_poll_disarm` cannot
/// take it) and changes nothing. Made certain here on a deferred-task-work
/// ring, where the wake-up's task work waits for the ring's next wait: the
/// update or removal completes with `-EALREADY`; the poll then posts its
/// event (`POLLIN`), flagged `F_MORE` if multishot (still armed: a second
/// removal, once the ring has waited, completes with 0 and the poll with
/// `ECANCELED`), without it if one-shot.
#[test]
fn poll_update_or_remove_of_a_waking_poll_is_ealready() {
    let _watch = uring_tests::watchdog();
    if uring_tests::defer_ring(2).is_none() {
        return;
    }
    for multishot in [false, true] {
        for remove in [false, true] {
            let what = format!("multishot {multishot}, remove {remove}");
            let (res, got, again) = poll_op_on_a_waking_poll(multishot, remove);
            assert_eq!(res, -libc::EALREADY, "{what}");
            assert_eq!(got.len(), 1, "{what}: {got:?}");
            let (ud, events, more) = got[0];
            assert_eq!(ud, 1, "{what}");
            assert_ne!(events & libc::POLLIN as i32, 0, "{what}: {got:?}");
            assert_eq!(more, multishot, "{what}");
            if multishot {
                assert_eq!(again, 0, "{what}: the second removal");
            }
        }
    }
}
