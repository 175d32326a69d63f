//! The library's newest surfaces, attacked where their own suites stop:
//! `Remote::cancel_queued` with the `RemoteOpId`s of `Remote::queue` and
//! `queue_with_deadline` (ids cancelled from many threads at once while
//! their ops complete, twice, after their op completed and its slot holds a
//! later op, after a shutdown and after the reactor was dropped, ids of ops
//! refused at the shutdown, callbacks that panic, callbacks that queue and
//! cancel through remotes, a reactor driven by tokio, a `Remote` given to
//! `mem::forget`); the scope's screen of a multishot `RecvMsgMulti` flagged
//! `MSG_TRUNC` on every kind of descriptor (UDP, Unix datagram and
//! sequenced-packet sockets let through, a Unix stream, a registered
//! descriptor and a pipe refused) with the bytes each claim lends;
//! `BufRing::claim_unchecked` and `claim_truncated_unchecked` over UDP
//! datagrams of every length around the buffer's, with and without
//! `MSG_TRUNC`, on plain and incremental rings; file tables past the soft
//! `RLIMIT_NOFILE` whose registration then fails for another reason.
//!
//! Read against Linux 6.18: `io_uring/net.c` (`io_recvmsg_prep_multishot`,
//! `io_recvmsg_multishot`, which caps the count at the payload room and
//! puts the datagram's length in the header; `io_recv`, which recycles the
//! selection of a receive that moved nothing), `io_uring/kbuf.c`
//! (`io_kbuf_inc_commit`, which walks an incremental ring's head on by the
//! completion's count, whatever was placed; `io_kbuf_commit`),
//! `net/ipv4/udp.c` (`udp_recvmsg`: copies what fits, returns the whole
//! length under `MSG_TRUNC`), `net/unix/af_unix.c`
//! (`__unix_dgram_recvmsg`, which serves `SOCK_SEQPACKET` too),
//! `io_uring/rsrc.c` (`io_sqe_files_register`: `EMFILE` past
//! `rlimit(RLIMIT_NOFILE)`, `EBADF` for an io_uring file) and
//! `io_uring/cancel.c` (`io_async_cancel`).
//!
//! Every test is safe code against the running kernel (but the claims of
//! buffers outside a scope and the limits of a child process) and checks
//! what the kernel did: results, errnos, which callback ran how often, the
//! bytes each claim lends against the bytes the peer sent, and the buffers
//! back in their ring.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use uring::ops::{Recv, RecvMsgMulti};
use uring::reactor::ops::{Nop, Timeout};
use uring::reactor::{Reactor, Remote, RemoteOpId};
use uring::{BufRing, Error, MsgFlags, MsgLayout, RecvMsgOut, Ring};
use uring_tests::{push_lent, reap_one, watchdog};

/// How long a test waits for a callback it expects before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------
// Remote::queue / cancel_queued.

/// A reactor running with `run` on its own thread, and a remote to it.
fn serve() -> (Remote, thread::JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let reactor = Reactor::from_ring(Ring::new(64).unwrap()).unwrap();
        tx.send(reactor.remote()).unwrap();
        reactor.run()
    });
    (rx.recv().unwrap(), server)
}

/// What a callback reports: its op's tag and its result (an errno for an
/// error; `None` for an error that carries none, a refusal's).
type Report = (u64, Result<u32, Option<i32>>);

/// A callback that sends its tag and result on `tx`.
fn report(
    tx: &mpsc::Sender<Report>,
    tag: u64,
) -> impl FnOnce(std::io::Result<u32>, ()) + Send + 'static {
    let tx = tx.clone();
    move |r, ()| {
        let _ = tx.send((tag, r.map_err(|e| e.raw_os_error())));
    }
}

/// The next `n` reports, each within [`PATIENCE`].
fn reports(rx: &mpsc::Receiver<Report>, n: usize) -> Vec<Report> {
    (0..n)
        .map(|i| {
            rx.recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("report {i} of {n} never came"))
        })
        .collect()
}

/// Four threads, each with its own clone of the remote, queue 150 NOPs
/// and 150 timeouts of 20 s each, and cancel every id twice at once, the
/// NOPs' racing their completions: every callback runs exactly once, every
/// timeout ends with `ECANCELED` within seconds, every NOP with 0 (a NOP
/// completes as it is submitted, before a cancel queued behind it is
/// looked at), and the ids are all distinct.
#[test]
fn cancels_from_many_threads_racing_completions_lose_and_repeat_no_callback() {
    let _watch = watchdog();
    const THREADS: u64 = 4;
    const EACH: u64 = 150;
    let (remote, server) = serve();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let remote = remote.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..EACH {
                    let tag = (t * 1000 + i) * 2;
                    let long = remote
                        .queue(Timeout::new(Duration::from_secs(20)), report(&tx, tag))
                        .unwrap();
                    let nop = remote.queue(Nop, report(&tx, tag + 1)).unwrap();
                    remote.cancel_queued(nop).unwrap();
                    remote.cancel_queued(long).unwrap();
                    remote.cancel_queued(long).unwrap();
                    ids.push(long);
                    ids.push(nop);
                }
                ids
            })
        })
        .collect();
    let ids: Vec<RemoteOpId> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    let got = reports(&rx, (THREADS * EACH * 2) as usize);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "a timeout ran to its end"
    );
    let mut seen = HashMap::new();
    for (tag, res) in got {
        assert!(
            seen.insert(tag, res).is_none(),
            "op {tag}'s callback ran twice"
        );
        if tag % 2 == 0 {
            assert_eq!(res, Err(Some(libc::ECANCELED)), "timeout {tag}");
        } else {
            assert_eq!(res, Ok(0), "nop {tag}");
        }
    }
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "an id was handed out twice");
    remote.shutdown().unwrap();
    drop(remote);
    server.join().unwrap().unwrap();
    assert!(rx.try_recv().is_err(), "a callback ran again");
}

/// 300 NOPs complete; then 300 timeouts of 300 ms take their slots (the
/// reactor's slab reuses them) and the NOPs' ids are cancelled, twice,
/// from another thread: each timeout runs to its end (`ETIME`), no stale
/// id reaching the op that reuses its slot.
#[test]
fn stale_remote_op_ids_never_cancel_the_ops_reusing_their_slots() {
    let _watch = watchdog();
    const N: u64 = 300;
    let (remote, server) = serve();
    let (tx, rx) = mpsc::channel();
    let nops: Vec<RemoteOpId> = (0..N)
        .map(|i| remote.queue(Nop, report(&tx, i)).unwrap())
        .collect();
    assert!(reports(&rx, N as usize).iter().all(|(_, r)| *r == Ok(0)));
    let timeouts: Vec<RemoteOpId> = (0..N)
        .map(|i| {
            remote
                .queue(
                    Timeout::new(Duration::from_millis(300)),
                    report(&tx, 1000 + i),
                )
                .unwrap()
        })
        .collect();
    let canceller = remote.clone();
    thread::spawn(move || {
        for id in nops.iter().chain(&nops) {
            canceller.cancel_queued(*id).unwrap();
        }
    })
    .join()
    .unwrap();
    let got = reports(&rx, N as usize);
    let cancelled: Vec<_> = got
        .iter()
        .filter(|(_, r)| *r != Err(Some(libc::ETIME)))
        .collect();
    assert!(
        cancelled.is_empty(),
        "stale ids reached later ops: {cancelled:?}"
    );
    // And the timeouts' own ids, now stale too, cancel nothing either.
    for id in &timeouts {
        remote.cancel_queued(*id).unwrap();
    }
    remote.queue(Nop, report(&tx, 9999)).unwrap();
    assert_eq!(reports(&rx, 1), [(9999, Ok(0))]);
    drop(remote);
    server.join().unwrap().unwrap();
    assert!(rx.try_recv().is_err(), "a callback ran twice");
}

/// A shutdown sent through the remote, then a queue right behind it: the
/// timeout in flight ends with `ECANCELED`; the queue is either refused
/// (an error, its callback never run) or accepted and its callback run
/// once with an error (the reactor no longer takes ops). Afterwards every
/// id, the refused op's included, is answered with an error, on the
/// reactor dropped as well, and nothing panics.
#[test]
fn ids_after_a_shutdown_and_after_the_reactor_is_gone_are_errors_not_panics() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let (tx, rx) = mpsc::channel();
    let long = remote
        .queue(Timeout::new(Duration::from_secs(30)), report(&tx, 1))
        .unwrap();
    // Let it reach the kernel.
    remote.queue(Nop, report(&tx, 0)).unwrap();
    assert_eq!(reports(&rx, 1), [(0, Ok(0))]);
    remote.shutdown().unwrap();
    let late = remote.queue(Nop, report(&tx, 2));
    let mut got = reports(&rx, 1 + usize::from(late.is_ok()));
    got.sort_by_key(|(tag, _)| *tag);
    assert_eq!(got[0], (1, Err(Some(libc::ECANCELED))));
    if late.is_ok() {
        assert_eq!(got[1].0, 2);
        assert!(
            got[1].1.is_err(),
            "an op queued after the shutdown ran: {got:?}"
        );
    }
    server.join().unwrap().unwrap();
    assert!(remote.cancel_queued(long).is_err());
    if let Ok(late) = late {
        assert!(remote.cancel_queued(late).is_err());
    }
    assert!(remote.queue(Nop, report(&tx, 3)).is_err());
    assert!(
        remote
            .queue_with_deadline(Nop, Instant::now(), report(&tx, 4))
            .is_err()
    );
    let clone = remote.clone();
    assert!(clone.cancel_queued(long).is_err());
    drop((remote, clone));
    assert!(rx.try_recv().is_err(), "a refused op's callback ran");
}

/// A callback that panics makes `run` unwind (the panic goes on, as the
/// reactor's docs say); the reactor, run again, still serves the remote,
/// and `cancel_queued` still reaches an op queued before the panic (a
/// 30 s timeout ends with `ECANCELED` at once), its callback run once.
#[test]
fn a_panicking_callback_leaves_the_other_ids_cancellable_once_run_resumes() {
    let _watch = watchdog();
    let (tx_remote, rx_remote) = mpsc::channel();
    let (panicked_tx, panicked) = mpsc::channel();
    let server = thread::spawn(move || {
        let reactor = Reactor::from_ring(Ring::new(16).unwrap()).unwrap();
        tx_remote.send(reactor.remote()).unwrap();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
        panicked_tx.send(first.is_err()).unwrap();
        reactor.run()
    });
    let remote: Remote = rx_remote.recv().unwrap();
    let (tx, rx) = mpsc::channel();
    let long = remote
        .queue(Timeout::new(Duration::from_secs(30)), report(&tx, 1))
        .unwrap();
    let boom = remote.queue(Nop, |_r, ()| uring_tests::stop()).unwrap();
    assert!(
        panicked.recv_timeout(PATIENCE).unwrap(),
        "the callback's panic did not reach run's caller"
    );
    let start = Instant::now();
    remote.cancel_queued(boom).unwrap();
    remote.cancel_queued(long).unwrap();
    assert_eq!(reports(&rx, 1), [(1, Err(Some(libc::ECANCELED)))]);
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(remote);
    server.join().unwrap().unwrap();
    assert!(rx.try_recv().is_err(), "a callback ran twice");
}

/// A callback (on the reactor's thread) queues a 30 s timeout through a
/// clone of the remote and cancels it at once with the id it was given,
/// and cancels its own op's id, which has completed: the timeout ends with
/// `ECANCELED`, and nothing else is cancelled (a 200 ms timeout queued
/// next runs to its end).
#[test]
fn a_callback_cancels_what_it_queued_through_a_remote() {
    let _watch = watchdog();
    let (remote, server) = serve();
    let (tx, rx) = mpsc::channel();
    let inner = remote.clone();
    let inner_tx = tx.clone();
    let own: Arc<std::sync::Mutex<Option<RemoteOpId>>> = Arc::default();
    let own_in = Arc::clone(&own);
    let first = remote
        .queue(Nop, move |r, ()| {
            inner_tx.send((0, r.map_err(|e| e.raw_os_error()))).unwrap();
            let id = inner
                .queue(Timeout::new(Duration::from_secs(30)), report(&inner_tx, 1))
                .unwrap();
            inner.cancel_queued(id).unwrap();
            if let Some(own) = *own_in.lock().unwrap() {
                inner.cancel_queued(own).unwrap();
            }
        })
        .unwrap();
    *own.lock().unwrap() = Some(first);
    let start = Instant::now();
    let mut got = reports(&rx, 2);
    got.sort_by_key(|(tag, _)| *tag);
    assert_eq!(got, [(0, Ok(0)), (1, Err(Some(libc::ECANCELED)))]);
    assert!(start.elapsed() < Duration::from_secs(5));
    remote
        .queue(Timeout::new(Duration::from_millis(200)), report(&tx, 2))
        .unwrap();
    remote.cancel_queued(first).unwrap();
    assert_eq!(reports(&rx, 1), [(2, Err(Some(libc::ETIME)))]);
    drop(remote);
    server.join().unwrap().unwrap();
}

/// The same through a reactor driven by tokio (`into_tokio`, awaited on a
/// current-thread runtime of its own thread): a timeout of 30 s queued
/// with a deadline 30 s away and one without are cancelled through their
/// ids from another thread (`ECANCELED`, at once); a completed NOP's id
/// cancels nothing (a 200 ms timeout runs out); a shutdown ends the
/// driver, after which the ids are errors.
#[test]
fn cancel_queued_reaches_a_reactor_driven_by_tokio() {
    let _watch = watchdog();
    let (tx_remote, rx_remote) = mpsc::channel();
    let server = thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let reactor = Reactor::new().unwrap();
            tx_remote.send(reactor.remote()).unwrap();
            reactor.into_tokio().unwrap().await
        })
    });
    let remote: Remote = rx_remote.recv().unwrap();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let long = remote
        .queue(Timeout::new(Duration::from_secs(30)), report(&tx, 1))
        .unwrap();
    let far = remote
        .queue_with_deadline(
            Timeout::new(Duration::from_secs(60)),
            start + Duration::from_secs(30),
            report(&tx, 2),
        )
        .unwrap();
    let canceller = remote.clone();
    thread::spawn(move || {
        canceller.cancel_queued(far).unwrap();
        canceller.cancel_queued(long).unwrap();
    })
    .join()
    .unwrap();
    let mut got = reports(&rx, 2);
    got.sort_by_key(|(tag, _)| *tag);
    assert_eq!(
        got,
        [
            (1, Err(Some(libc::ECANCELED))),
            (2, Err(Some(libc::ECANCELED)))
        ]
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    let nop = remote.queue(Nop, report(&tx, 3)).unwrap();
    assert_eq!(reports(&rx, 1), [(3, Ok(0))]);
    remote
        .queue(Timeout::new(Duration::from_millis(200)), report(&tx, 4))
        .unwrap();
    remote.cancel_queued(nop).unwrap();
    assert_eq!(reports(&rx, 1), [(4, Err(Some(libc::ETIME)))]);
    remote.shutdown().unwrap();
    server.join().unwrap().unwrap();
    assert!(remote.cancel_queued(long).is_err());
    assert!(remote.queue(Nop, report(&tx, 5)).is_err());
    assert!(rx.try_recv().is_err(), "a callback ran twice");
}

/// A remote given to `mem::forget` keeps `run` serving after every other
/// remote is dropped (as documented); ids still cancel their ops then,
/// through a remote made on the reactor's thread and sent back out; a
/// shutdown ends the run, and the forgotten remote's reactor refuses
/// every id afterwards.
#[test]
fn a_forgotten_remote_keeps_run_serving_until_a_shutdown_and_ids_still_cancel() {
    let _watch = watchdog();
    let (remote, server) = serve();
    std::mem::forget(remote.clone());
    let (tx, rx) = mpsc::channel();
    let long = remote
        .queue(Timeout::new(Duration::from_secs(30)), report(&tx, 1))
        .unwrap();
    // Another remote, made on the reactor's thread.
    let (back, fresh) = mpsc::channel();
    remote
        .execute(move |h| back.send(h.remote()).unwrap())
        .unwrap();
    let fresh: Remote = fresh.recv_timeout(PATIENCE).unwrap();
    drop(remote);
    thread::sleep(Duration::from_millis(50));
    assert!(!server.is_finished(), "run ended with a remote alive");
    fresh.cancel_queued(long).unwrap();
    assert_eq!(reports(&rx, 1), [(1, Err(Some(libc::ECANCELED)))]);
    fresh.shutdown().unwrap();
    server.join().unwrap().unwrap();
    assert!(fresh.cancel_queued(long).is_err());
}

/// Thousands of ops queued with and without deadlines through one remote
/// while a second thread cancels every third id as soon as it is handed
/// out: each callback runs once; a timeout of 20 s whose id was cancelled
/// ends with `ECANCELED`, one whose deadline (50 ms) came first or whose
/// id was not cancelled ends at its deadline, never with the other's
/// answer; NOPs all complete with 0.
#[test]
fn thousands_of_ops_with_deadlines_and_cancels_each_get_their_own_answer() {
    let _watch = watchdog();
    const N: u64 = 2000;
    let (remote, server) = serve();
    let (tx, rx) = mpsc::channel();
    let (ids_tx, ids_rx) = mpsc::channel::<RemoteOpId>();
    let canceller = remote.clone();
    let cancels = thread::spawn(move || {
        let mut n = 0usize;
        for id in ids_rx {
            canceller.cancel_queued(id).unwrap();
            n += 1;
        }
        n
    });
    let start = Instant::now();
    let deadline = start + Duration::from_millis(50);
    for i in 0..N {
        match i % 3 {
            // Cancelled: a 20 s timeout with no deadline.
            0 => {
                let id = remote
                    .queue(Timeout::new(Duration::from_secs(20)), report(&tx, i))
                    .unwrap();
                ids_tx.send(id).unwrap();
            }
            // Not cancelled: ends at its deadline (ECANCELED from the
            // link timeout, or ETIME were it to win).
            1 => {
                remote
                    .queue_with_deadline(
                        Timeout::new(Duration::from_secs(20)),
                        deadline,
                        report(&tx, i),
                    )
                    .unwrap();
            }
            _ => {
                let id = remote.queue(Nop, report(&tx, i)).unwrap();
                ids_tx.send(id).unwrap();
            }
        }
    }
    drop(ids_tx);
    let got = reports(&rx, N as usize);
    assert!(start.elapsed() < Duration::from_secs(15));
    let mut seen = HashMap::new();
    for (tag, res) in got {
        assert!(seen.insert(tag, res).is_none(), "op {tag} ran twice");
        match tag % 3 {
            0 => assert_eq!(res, Err(Some(libc::ECANCELED)), "cancelled op {tag}"),
            1 => assert!(
                matches!(res, Err(Some(libc::ECANCELED | libc::ETIME))),
                "deadline op {tag}: {res:?}"
            ),
            _ => assert_eq!(res, Ok(0), "nop {tag}"),
        }
    }
    // The deadline ops ended at their deadline, not before it.
    assert!(Instant::now() >= deadline);
    assert_eq!(cancels.join().unwrap(), (N as usize).div_ceil(3) * 2 - 1);
    drop(remote);
    server.join().unwrap().unwrap();
}

// ---------------------------------------------------------------------
// The scope's screen of a multishot recvmsg flagged MSG_TRUNC.

/// Buffers of 64 bytes, a layout of no address and no control: the header
/// (16 bytes) and 48 bytes of payload room.
const BUF: u32 = 64;
const ROOM: usize = 48;

/// A connected Unix sequenced-packet pair.
fn seqpacket_pair() -> (UnixDatagram, UnixDatagram) {
    use std::os::fd::{FromRawFd as _, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into `fds`, which lives
    // for the call.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nothing
    // else; a connected sequenced-packet socket takes `send(2)` and
    // `recv(2)` as a connected datagram socket does.
    unsafe {
        (
            UnixDatagram::from(OwnedFd::from_raw_fd(fds[0])),
            UnixDatagram::from(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

/// What one message of a multishot recvmsg gave: the completion's result,
/// the header's payload length and flags, the payload the claim lends.
#[derive(Debug, PartialEq)]
struct Message {
    res: i32,
    payload_len: u32,
    trunc: bool,
    payload: Vec<u8>,
}

/// Receives `lens.len()` datagrams (already sent) with one multishot
/// recvmsg on `rx` (`flags` added), and reads each message's claim; then
/// cancels the op. Or the errno of its first completion, which must name
/// no buffer.
fn recvmsg_multi<F: AsFd>(
    ring: &mut Ring,
    pool: &BufRing,
    rx: &F,
    n: usize,
    flags: MsgFlags,
) -> Result<Vec<Message>, i32> {
    let layout = MsgLayout::new(0, 0);
    ring.scope(|s| {
        s.push(
            RecvMsgMulti::new(rx, &layout, pool.group())
                .msg_flags(flags)
                .user_data(7),
        )
        .unwrap();
        let mut out = Vec::new();
        while out.len() < n {
            let mut cqe = uring_tests::next_scope_cqe(s);
            if cqe.res() < 0 {
                assert_eq!(cqe.buffer_id(), None, "{:?}", cqe.cqe());
                assert!(!cqe.has_more(), "an error that goes on: {:?}", cqe.cqe());
                return Err(-cqe.res());
            }
            let res = cqe.res();
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf.len(), res as usize, "the claim lends the count");
            let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
            out.push(Message {
                res,
                payload_len: msg.payload_len(),
                trunc: msg.flags() & libc::MSG_TRUNC as u32 != 0,
                payload: msg.payload().to_vec(),
            });
        }
        s.cancel(7).unwrap();
        Ok(out)
    })
}

/// What the kernel gives for a datagram of `len` bytes (`pattern(len,
/// seed)`), received into 48 bytes of payload room, `truncating` or not.
fn expected(len: usize, seed: u8, truncating: bool) -> Message {
    let sent = uring_tests::pattern(len, seed);
    let placed = len.min(ROOM);
    Message {
        res: (16 + placed) as i32,
        payload_len: if truncating {
            len as u32
        } else {
            placed as u32
        },
        trunc: len > ROOM,
        payload: sent[..placed].to_vec(),
    }
}

/// Datagram lengths around the payload room.
const LENS: [usize; 5] = [1, ROOM - 1, ROOM, ROOM + 1, 3 * ROOM + 5];

/// On UDP, Unix datagram and Unix sequenced-packet sockets, a multishot
/// recvmsg flagged `MSG_TRUNC` is let through: each message's count is
/// the header and the bytes placed (at most the room), its header gives
/// the datagram's whole length and `MSG_TRUNC` when it was longer, and the
/// claim lends exactly the first bytes the peer sent. Without the flag the
/// header gives the bytes placed. Every buffer comes back.
#[test]
fn a_truncating_recvmsg_multi_on_datagram_sockets_lends_exactly_what_was_sent() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !uring_tests::require_op::<RecvMsgMulti<'_>>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 5, 8, BUF) else {
        return;
    };
    let udp_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_tx.connect(udp_rx.local_addr().unwrap()).unwrap();
    let (dgram_tx, dgram_rx) = UnixDatagram::pair().unwrap();
    let (seq_tx, seq_rx) = seqpacket_pair();
    for truncating in [true, false] {
        let flags = if truncating {
            MsgFlags::TRUNC
        } else {
            MsgFlags::empty()
        };
        for (kind, seed) in [("udp", 1u8), ("unix dgram", 2), ("seqpacket", 3)] {
            for &len in &LENS {
                let bytes = uring_tests::pattern(len, seed);
                match kind {
                    "udp" => udp_tx.send(&bytes).map(drop),
                    "unix dgram" => dgram_tx.send(&bytes).map(drop),
                    _ => seq_tx.send(&bytes).map(drop),
                }
                .unwrap();
            }
            let got = match kind {
                "udp" => recvmsg_multi(&mut ring, &pool, &udp_rx, LENS.len(), flags),
                "unix dgram" => recvmsg_multi(&mut ring, &pool, &dgram_rx, LENS.len(), flags),
                _ => recvmsg_multi(&mut ring, &pool, &seq_rx, LENS.len(), flags),
            };
            let want: Vec<Message> = LENS
                .iter()
                .map(|&len| expected(len, seed, truncating))
                .collect();
            assert_eq!(got, Ok(want), "{kind}, MSG_TRUNC {truncating}");
            assert_eq!(pool.lent(), 0);
            if pool.available().is_ok() {
                assert_eq!(pool.available().unwrap(), 8, "{kind}: buffers back");
            }
        }
    }
}

/// Refused (`EINVAL`, naming no buffer, reading nothing): a multishot
/// recvmsg flagged `MSG_TRUNC` on a Unix stream, on a UDP socket named by
/// its slot in the file table (which the scope cannot ask for its type),
/// and on a pipe (no socket; the kernel itself would say `ENOTSOCK`). The
/// bytes stay where they were, the buffers in the ring, and the same op
/// without the flag runs on the registered UDP socket.
#[test]
fn a_truncating_recvmsg_multi_is_refused_on_streams_fixed_slots_and_non_sockets() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !uring_tests::require_op::<RecvMsgMulti<'_>>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 6, 4, BUF) else {
        return;
    };
    // A Unix stream.
    let (mut stream_tx, stream_rx) = UnixStream::pair().unwrap();
    stream_tx.write_all(b"stream bytes").unwrap();
    let got = recvmsg_multi(&mut ring, &pool, &stream_rx, 1, MsgFlags::TRUNC);
    assert_eq!(got, Err(libc::EINVAL), "unix stream");
    let mut rest = [0; 12];
    (&stream_rx).read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"stream bytes");
    // A pipe.
    let (pipe_rx, pipe_tx) = uring_tests::pipe();
    std::fs::File::from(pipe_tx).write_all(b"x").unwrap();
    let got = recvmsg_multi(&mut ring, &pool, &pipe_rx, 1, MsgFlags::TRUNC);
    assert_eq!(got, Err(libc::EINVAL), "pipe");
    // A UDP socket by its slot.
    let udp_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_tx.connect(udp_rx.local_addr().unwrap()).unwrap();
    let table = ring.register_files(&[udp_rx.as_fd()]).unwrap();
    udp_tx.send(&uring_tests::pattern(20, 4)).unwrap();
    let layout = MsgLayout::new(0, 0);
    let slot = table.get(0).unwrap();
    let refused = ring.scope(|s| {
        s.push(
            RecvMsgMulti::new(slot, &layout, pool.group())
                .msg_flags(MsgFlags::TRUNC)
                .user_data(1),
        )
        .unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        (cqe.res(), cqe.buffer_id())
    });
    assert_eq!(refused, (-libc::EINVAL, None), "fixed slot");
    let taken = ring.scope(|s| {
        s.push(RecvMsgMulti::new(slot, &layout, pool.group()).user_data(2))
            .unwrap();
        let mut cqe = uring_tests::next_scope_cqe(s);
        assert!(cqe.res() > 0, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        let payload = RecvMsgOut::parse(&buf, &layout).unwrap().payload().to_vec();
        drop(buf);
        s.cancel(2).unwrap();
        payload
    });
    assert_eq!(taken, uring_tests::pattern(20, 4), "the datagram, kept");
    ring.unregister_files(table).unwrap();
    assert_eq!(pool.lent(), 0);
    if pool.available().is_ok() {
        assert_eq!(pool.available().unwrap(), 4);
    }
}

// ---------------------------------------------------------------------
// claim_unchecked / claim_truncated_unchecked.

/// One `Recv` selecting from `pool`, flagged `flags`, of a UDP datagram
/// of `len` bytes sent before it: its completion.
fn recv_datagram(
    ring: &mut Ring,
    pool: &BufRing,
    pair: &(std::net::UdpSocket, std::net::UdpSocket),
    len: usize,
    seed: u8,
    flags: MsgFlags,
) -> uring::Cqe {
    pair.0.send(&uring_tests::pattern(len, seed)).unwrap();
    push_lent!(
        ring,
        Recv::new(&pair.1, pool.select())
            .msg_flags(flags)
            .user_data(u64::from(seed))
    )
    .unwrap();
    let cqe = reap_one(ring);
    assert_eq!(cqe.user_data(), u64::from(seed));
    cqe
}

/// A connected UDP pair on the loopback.
fn udp_pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    (a, b)
}

/// UDP datagrams of 1, 15, 16, 17, 32 and 100 bytes into 16-byte buffers
/// of a plain ring, with and without `MSG_TRUNC`: the completion counts
/// the bytes placed (without) or the datagram (with); `claim_unchecked`
/// takes every completion within a buffer and refuses one past it,
/// claiming nothing; `claim_truncated_unchecked` takes every one, lending
/// the datagram's first bytes up to the buffer's length. Every buffer
/// comes back. An empty datagram read inline names no buffer (the kernel
/// recycled the selection): both claims refuse it.
#[test]
fn claims_of_datagrams_of_every_length_around_the_buffer_lend_the_bytes_sent() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 7, 4, 16) else {
        return;
    };
    let pair = udp_pair();
    let mut seed = 10u8;
    for truncating in [false, true] {
        let flags = if truncating {
            MsgFlags::TRUNC
        } else {
            MsgFlags::empty()
        };
        for len in [1usize, 15, 16, 17, 32, 100] {
            seed += 1;
            let sent = uring_tests::pattern(len, seed);
            let cqe = recv_datagram(&mut ring, &pool, &pair, len, seed, flags);
            let want_res = if truncating { len } else { len.min(16) };
            assert_eq!(cqe.res(), want_res as i32, "len {len}, TRUNC {truncating}");
            assert!(cqe.buffer_id().is_some());
            // SAFETY: the kernel posted `cqe` on `ring`, which registered
            // `pool`, for a receive (not a bundle) that selected one
            // buffer of it; nothing else claims it, and a refused claim
            // claims nothing.
            let plain = unsafe { pool.claim_unchecked(&cqe) };
            let buf = match plain {
                Ok(buf) => {
                    assert!(want_res <= 16, "len {len}: a count past the buffer taken");
                    buf
                }
                Err(Error::InvalidArgument(_)) => {
                    assert!(want_res > 16, "len {len}: refused within the buffer");
                    assert_eq!(pool.lent(), 0);
                    // SAFETY: as above, of a receive flagged MSG_TRUNC.
                    unsafe { pool.claim_truncated_unchecked(&cqe) }.unwrap()
                }
                Err(e) => panic!("len {len}: {e}"),
            };
            assert_eq!(
                buf[..],
                sent[..len.min(16)],
                "len {len}, TRUNC {truncating}"
            );
            assert_eq!(pool.lent(), 1);
            drop(buf);
            assert_eq!(pool.lent(), 0);
        }
    }
    // An empty datagram.
    let cqe = recv_datagram(&mut ring, &pool, &pair, 0, 99, MsgFlags::TRUNC);
    assert_eq!(cqe.res(), 0);
    if cqe.buffer_id().is_none() {
        // SAFETY: as above; it names no buffer, so nothing is claimed.
        assert!(unsafe { pool.claim_unchecked(&cqe) }.is_err());
        // SAFETY: as above.
        assert!(unsafe { pool.claim_truncated_unchecked(&cqe) }.is_err());
    } else {
        // SAFETY: as above.
        let buf = unsafe { pool.claim_truncated_unchecked(&cqe) }.unwrap();
        assert!(buf.is_empty());
    }
    assert_eq!(pool.lent(), 0);
    if pool.available().is_ok() {
        assert_eq!(pool.available().unwrap(), 4, "every buffer back");
    }
}

/// On an incremental ring (6.12), a receive flagged `MSG_TRUNC` of a 40
/// byte datagram into 16-byte buffers completes with 40, naming buffer 0,
/// and the kernel walks the ring's head on by the 40 bytes it counts
/// (`io_kbuf_inc_commit`): buffers 0 and 1 used up, buffer 2 at its 8th
/// byte, though it placed 16 bytes in buffer 0 alone.
/// `claim_truncated_unchecked` lends those 16 bytes and keeps the ring's
/// count in step: the next datagram (8 bytes), which the kernel puts at
/// byte 8 of buffer 2, is claimed as those bytes, and the buffers the
/// count used up are back in the ring. (It used to refuse the completion
/// as a bundle's, and the next claim lent 8 bytes the kernel never wrote.)
#[test]
fn a_truncated_datagram_on_an_incremental_ring_leaves_the_next_claim_in_step() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 8, 4, 16) else {
        return;
    };
    let pair = udp_pair();
    let sent = uring_tests::pattern(40, 5);
    let cqe = recv_datagram(&mut ring, &pool, &pair, 40, 5, MsgFlags::TRUNC);
    assert_eq!((cqe.res(), cqe.buffer_id()), (40, Some(0)), "{cqe:?}");
    // SAFETY: the kernel posted `cqe` on `ring`, which registered `pool`,
    // for a receive (not a bundle) flagged MSG_TRUNC that selected from
    // it; nothing else claims it, and a refused claim claims nothing.
    let claimed = unsafe { pool.claim_truncated_unchecked(&cqe) }.unwrap();
    assert_eq!(claimed[..], sent[..16], "the bytes placed, no more");
    drop(claimed);
    // The next datagram, which fits.
    let next = uring_tests::pattern(8, 6);
    let cqe = recv_datagram(&mut ring, &pool, &pair, 8, 6, MsgFlags::empty());
    assert_eq!(cqe.res(), 8, "{cqe:?}");
    // SAFETY: as above, not flagged; the completions are claimed in the
    // order the kernel posted them.
    let buf = unsafe { pool.claim_unchecked(&cqe) };
    let lent = buf.as_deref().map(<[u8]>::to_vec);
    assert_eq!(
        lent.as_deref().ok(),
        Some(&next[..]),
        "the claim of buffer {:?} lends other bytes than the datagram: {lent:?}",
        cqe.buffer_id()
    );
    drop(buf);
    assert_eq!(pool.lent(), 0);
    if let Ok(available) = pool.available() {
        assert!(
            available >= 3,
            "buffers lost for good to a truncated receive: {available} of 4 in the ring"
        );
    }
}

// ---------------------------------------------------------------------
// File tables past the soft RLIMIT_NOFILE.

/// A table of 100 files (soft limit 64, hard 128) holding a ring's
/// descriptor, which the kernel refuses (`EBADF`): the first ask fails
/// with `EMFILE`, the limit is raised to 100 and the second ask fails
/// with `EBADF`, which the caller gets (not `EMFILE`), no table left
/// behind (a sparse table registers next). The raised soft limit stays
/// raised though nothing was registered: shown here, as the docs do not
/// say it. A table past the hard limit with a bad file fails with
/// `EMFILE`, the limit untouched. `Probe::kernel` with no descriptor
/// left fails with `EMFILE`, not a panic. In a process of its own.
#[test]
fn a_file_table_refused_after_the_limit_was_raised_reports_the_kernel_s_reason() {
    const NAME: &str =
        "a_file_table_refused_after_the_limit_was_raised_reports_the_kernel_s_reason";
    if !uring_tests::in_child(NAME) {
        let out = uring_tests::run_in_child(NAME);
        eprintln!("{out}");
        return;
    }
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let other = Ring::new(2).unwrap();
    let (tx, _rx) = UnixStream::pair().unwrap();
    let limit = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 128,
    };
    // SAFETY: setrlimit reads the struct, alive for the call; the process
    // is this test's alone.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    // SAFETY: `other` lives to the end of the test, so its descriptor
    // stays open and names the same ring while this borrow is used; the
    // kernel only looks it up (and refuses it).
    let ring_fd =
        unsafe { std::os::fd::BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(&other)) };
    let mut files = vec![tx.as_fd(); 100];
    files[50] = ring_fd;
    let e = ring.register_files(&files).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
    assert_eq!(
        uring_tests::nofile_limits(),
        (100, 128),
        "raised for a table never registered"
    );
    files.resize(129, tx.as_fd());
    let e = ring.register_files(&files).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    assert_eq!(uring_tests::nofile_limits(), (100, 128));
    let table = ring.register_files_sparse(8).unwrap();
    assert_eq!(table.len(), 8);
    ring.unregister_files(table).unwrap();
    // With no descriptor left to open (soft limit 3: 0, 1 and 2 are
    // open), `Probe::kernel`, which opens a ring of its own, fails with
    // `EMFILE`; the ring the program has still probes.
    let limit = libc::rlimit {
        rlim_cur: 3,
        rlim_max: 128,
    };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let e = uring::Probe::kernel().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    assert!(ring.probe().unwrap().supports::<uring::ops::Nop>());
}
