//! The library's guards (values that own or lend what the kernel may use,
//! or that restore state when dropped) attacked where the existing suites
//! stop short: handles given to `mem::forget` or dropped unused (a
//! `RingTarget`, the fixed-file and fixed-buffer tables' handles, a
//! `Remote`, a buffer ring the kernel allocated and a claim from it),
//! then the ring used on and dropped; a claimed buffer lent to a scope of
//! another ring, given back by that ring's scope at its end or as it
//! unwinds; the closures of `push_owned` and `push_claimed` panicking
//! after their push, caught inside the scope, which goes on with the
//! buffer still lent; a `Close` that owns its descriptor, left in a
//! forgotten batch or in a scope that unwinds before it submits, after
//! which its number is taken by other files; descriptors of accepts left
//! in the kernel's overflow list when a scope ends; and misuse order:
//! tables registered again over leaked ones, a ring dropped while its
//! leaked table holds a pipe's only writer.
//!
//! Read against Linux 6.18: `io_uring/rsrc.c` (`io_sqe_files_register`
//! and `io_sqe_buffers_register`, which refuse a second table with
//! `EBUSY`; `io_free_file_tables` at the ring's teardown, which drops the
//! table's file references), `io_uring/msg_ring.c` (a message needs only
//! the target ring's descriptor), `io_uring/kbuf.c` (`io_register_pbuf_ring`
//! refuses a group that is registered with `EEXIST`; `io_ring_buffer_select`
//! and its `ENOBUFS` when the ring is empty), `io_uring/net.c`
//! (`io_accept`: a multishot accept whose completion finds the CQ full
//! ends, its last descriptor posted to the overflow list),
//! `io_uring/openclose.c`
//! (`io_close`: the number is closed when the kernel issues the SQE, not
//! before), and `io_uring/io_uring.c` (`io_ring_exit_work`, which frees the
//! ring's resources once its last reference is gone).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: which completions came, once each, with which results, the
//! bytes it wrote, which descriptors are open and what a pipe's reader
//! sees.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use uring::ops::{Accept, Close, Nop, Recv};
use uring::reactor::Reactor;
use uring::{AcceptFlags, BufRing, BufferGroup, Builder, Error, PushErrorKind, Ring};
use uring_tests::{fd_is_open, pipe, plain_buf_ring, skip, watchdog};

/// The errno of a library error, if it carries one.
fn errno<T: std::fmt::Debug>(r: &uring::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(Error::raw_os_error)
}

/// `poll(2)` of `fd` for `events`, for at most `ms` milliseconds: the
/// events seen (0 when it timed out).
fn poll_for(fd: &impl AsRawFd, events: i16, ms: i32) -> i16 {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`, for the length given.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    p.revents
}

/// What waits in `rx`, read without blocking.
fn waiting(rx: &UnixStream) -> Vec<u8> {
    rx.set_nonblocking(true).unwrap();
    let mut all = Vec::new();
    let mut chunk = [0u8; 64];
    loop {
        match (&*rx).read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    rx.set_nonblocking(false).unwrap();
    all
}

/// Receives into every buffer of `pool` at once (a socket pair per
/// receive, one byte each) and one receive more: the kernel must hand
/// out exactly `count` distinct buffers, each with its byte, and then
/// none (`ENOBUFS`). No buffer is lost, or lent twice.
fn assert_pool_whole(ring: &mut Ring, pool: &BufRing, count: u16, what: &str) {
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..=count).map(|_| UnixStream::pair().unwrap()).collect();
    ring.scope(|s| {
        for (i, (tx, rx)) in pairs.iter().enumerate() {
            (&*tx).write_all(&[i as u8 ^ 0x5A]).unwrap();
            s.push(Recv::new(rx, pool.select()).user_data(i as u64))
                .unwrap();
        }
        s.submit_and_wait(u32::from(count) + 1).unwrap();
        let mut held = Vec::new();
        let mut dry = 0;
        let mut seen = 0;
        for mut cqe in s.completions() {
            seen += 1;
            if cqe.res() == -libc::ENOBUFS {
                dry += 1;
                continue;
            }
            assert_eq!(cqe.res(), 1, "{what}: receive {}", cqe.user_data());
            let byte = cqe.user_data() as u8 ^ 0x5A;
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], &[byte], "{what}");
            held.push(buf);
        }
        assert_eq!(seen, usize::from(count) + 1, "{what}: completions");
        let mut bids: Vec<u16> = held.iter().map(|b| b.bid()).collect();
        bids.sort_unstable();
        bids.dedup();
        assert_eq!(bids.len(), usize::from(count), "{what}: buffers lent");
        assert_eq!(dry, 1, "{what}: one receive more than buffers");
    });
}

/// A `RingTarget` given to `mem::forget` keeps its duplicate of the ring's
/// descriptor open for good, so another thread could post into the ring
/// at any time: every later scope takes no op (`Targeted`), two scopes
/// apart as well as the first, and a reactor refuses the ring
/// (`InvalidInput`). Pushes outside a scope still run, once each.
#[test]
fn a_forgotten_ring_target_holds_off_every_later_scope_and_the_reactor() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    std::mem::forget(ring.msg_target().unwrap());
    for round in 0..2 {
        let refused = ring.scope(|s| {
            let kinds = [
                s.push(Nop::new().user_data(1)).map_err(|e| e.kind()),
                s.push(Nop::new().user_data(2)).map_err(|e| e.kind()),
            ];
            assert_eq!(s.in_flight(), 0, "round {round}");
            kinds
        });
        assert_eq!(
            refused,
            [Err(PushErrorKind::Targeted), Err(PushErrorKind::Targeted)],
            "round {round}"
        );
        ring.push(Nop::new().user_data(10 + round)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(got, [(10 + round, 0)], "round {round}");
    }
    let refused = Reactor::from_ring(ring).map(drop);
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::InvalidInput)
    );
}

/// A fixed-file table whose handle is dropped (the same as forgotten: the
/// handle has no `Drop`, and nothing else can unregister the table) stays
/// the kernel's: it
/// holds its own reference to the pipe's only writer, so the reader sees
/// no hang-up while the ring lives; every registration of another table
/// is an error value (`EBUSY`, whatever its form), never a panic; and
/// once the ring is dropped, the kernel frees the table and the reader
/// sees the hang-up (within a bounded wait). A fixed-buffer table
/// dropped the same way refuses a second one too.
#[test]
fn a_dropped_file_table_handle_leaves_the_table_the_kernel_s_until_the_ring_goes() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    {
        // `FixedFiles` has no `Drop`: the handle going out of scope is the
        // same as forgetting it.
        let table = ring.register_files(&[tx.as_fd()]).unwrap();
        assert_eq!(table.len(), 1);
    }
    drop(tx);
    assert_eq!(
        poll_for(&rx, libc::POLLIN, 0) & libc::POLLHUP,
        0,
        "the kernel's table still holds the writer"
    );
    let (_rx2, tx2) = pipe();
    assert_eq!(
        errno(&ring.register_files(&[tx2.as_fd()])),
        Some(libc::EBUSY)
    );
    assert_eq!(
        errno(&ring.register_file_slots(&[None, Some(tx2.as_fd())])),
        Some(libc::EBUSY)
    );
    assert_eq!(errno(&ring.register_files_sparse(4)), Some(libc::EBUSY));
    // A fixed-buffer table's handle, gone out of scope the same way.
    let sparse = ring.register_buffers_sparse(2).map(|buffers| buffers.len());
    match sparse {
        Ok(len) => {
            assert_eq!(len, 2);
            assert_eq!(errno(&ring.register_buffers_sparse(2)), Some(libc::EBUSY));
        }
        Err(e) => skip(format!("sparse buffer tables: {e}")),
    }
    // The ring works on.
    ring.push(Nop::new().user_data(7)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(
        ring.completions()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>(),
        [(7, 0)]
    );
    drop(ring);
    // The kernel frees the ring (and its table) in a work item after the
    // last reference goes: wait for the hang-up, bounded.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = poll_for(&rx, libc::POLLIN, 100);
        if seen & libc::POLLHUP != 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dropped ring's table still holds the writer"
        );
    }
}

/// A buffer claimed from a ring of one `Ring` is lent to a receive in a
/// scope of another `Ring` (`push_claimed`): the kernel writes the bytes
/// into it, and the other ring's scope gives it back to its own buffer
/// ring, once, when the receive has completed. The receive is lent the
/// claimed bytes only (5 of the buffer's 32), and the kernel writes no
/// more. Then the buffer ring is
/// whole: every buffer is handed out once more, and no more.
#[test]
fn a_claimed_buffer_lent_to_another_ring_s_scope_goes_back_once() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 21, 2, 32) else {
        return;
    };
    let mut other = Ring::new(8).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"first").unwrap();
    let buf = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("the receive");
        assert_eq!(cqe.res(), 5);
        pool.claim(&mut cqe).unwrap()
    });
    assert_eq!(&buf[..], b"first");
    assert_eq!(pool.lent(), 1);
    let bid = buf.bid();
    tx.write_all(b"second-bytes").unwrap();
    let got = other.scope(|s| {
        s.push_claimed(buf, |bytes, sq| sq.push(Recv::new(&rx, bytes).user_data(2)))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        // Still lent while the scope holds it, given back at its end at
        // the latest.
        got
    });
    // The receive was lent the claimed bytes alone, not the buffer's
    // whole capacity: the rest stays in the socket.
    assert_eq!(got, [(2, 5)]);
    assert_eq!(waiting(&rx), b"d-bytes");
    assert_eq!(
        pool.lent(),
        0,
        "the other ring's scope gave buffer {bid} back"
    );
    assert_eq!(pool.available().ok(), Some(2));
    assert_pool_whole(&mut ring, &pool, 2, "after the loan to another ring");
}

/// As above, but the other ring's scope unwinds with the receive into the
/// claimed buffer still waiting: the scope cancels it and waits, gives the
/// buffer back once, and bytes sent afterwards stay in the socket.
#[test]
fn a_claimed_buffer_lent_to_another_ring_s_unwinding_scope_goes_back_once() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 22, 2, 32) else {
        return;
    };
    let mut other = Ring::new(8).unwrap();
    let (mut tx, mut rx) = UnixStream::pair().unwrap();
    tx.write_all(b"first").unwrap();
    let buf = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("the receive");
        pool.claim(&mut cqe).unwrap()
    });
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        other.scope(|s| {
            s.push_claimed(buf, |bytes, sq| sq.push(Recv::new(&rx, bytes).user_data(2)))
                .unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 1);
            panic!("the scope unwinds with the receive waiting");
        })
    }));
    assert!(unwound.is_err());
    assert_eq!(pool.lent(), 0);
    assert!(uring_tests::stray(&mut other).is_empty());
    tx.write_all(b"late").unwrap();
    rx.set_nonblocking(true).unwrap();
    let mut late = [0u8; 8];
    assert_eq!(rx.read(&mut late).unwrap(), 4);
    assert_eq!(&late[..4], b"late");
    rx.set_nonblocking(false).unwrap();
    assert_pool_whole(&mut ring, &pool, 2, "after the unwinding loan");
}

/// `Close` owns its descriptor. Pushed through a ring's batch that is then
/// forgotten, it stays with the batch (as `SubmissionQueue` documents):
/// no submission sends it, later pushes take its slot, and the number
/// stays open for good, leaked, never closed under a later file. Pushed in
/// a scope that unwinds before it submits, the scope's end submits it and
/// it closes its number once. The file that takes that number next is
/// never closed by the ring (more submissions, more scopes, the ring's
/// drop).
#[test]
fn an_owned_close_left_in_a_forgotten_batch_or_an_unwinding_scope_closes_at_most_once() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    // Through a forgotten batch.
    let (a_rx, a_tx) = pipe();
    let a = a_tx.as_raw_fd();
    {
        let mut sq = ring.submission();
        sq.push(Close::new(a_tx).user_data(1)).unwrap();
        std::mem::forget(sq);
    }
    assert_eq!(ring.submit().unwrap(), 0, "the forgotten close was sent");
    for i in 0..12u64 {
        // Past the forgotten SQE's slot, and round the SQ.
        ring.push(Nop::new().user_data(200 + i)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(got, [(200 + i, 0)]);
    }
    assert!(fd_is_open(a), "the forgotten close ran");
    assert_eq!(
        poll_for(&a_rx, libc::POLLIN, 0) & libc::POLLHUP,
        0,
        "the forgotten close ran"
    );
    // Through a scope that unwinds before it submits.
    let (b_rx, b_tx) = pipe();
    let b = b_tx.as_raw_fd();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push(Close::new(b_tx).user_data(2)).unwrap();
            s.push(Nop::new().user_data(3)).unwrap();
            panic!("the scope unwinds before it submits");
        })
    }));
    assert!(unwound.is_err());
    // The write end's only descriptor was closed: its reader sees the
    // hang-up (a check of the number alone would race with other tests'
    // opens).
    assert_ne!(
        poll_for(&b_rx, libc::POLLIN, 1000) & libc::POLLHUP,
        0,
        "the scope's end ran the close it took ownership of"
    );
    assert!(uring_tests::stray(&mut ring).is_empty());
    // New files take the number (other tests of this process open files
    // too: open until one gets it, bounded); the ring closes none of them.
    let (c_rx, c_tx) = pipe();
    let mut nulls: Vec<OwnedFd> = Vec::new();
    while nulls.len() < 256 && ![c_rx.as_raw_fd(), c_tx.as_raw_fd()].contains(&b) {
        let null: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let got = null.as_raw_fd() == b;
        nulls.push(null);
        if got {
            break;
        }
    }
    let taken: Vec<i32> = [c_rx.as_raw_fd(), c_tx.as_raw_fd()]
        .into_iter()
        .chain(nulls.iter().map(|n| n.as_raw_fd()))
        .collect();
    for round in 0..3u64 {
        ring.scope(|s| {
            s.push(Nop::new().user_data(round)).unwrap();
            s.submit_and_wait(1).unwrap();
            assert_eq!(s.completions().count(), 1);
        });
        ring.push(Nop::new().user_data(100 + round)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.completions().count(), 1);
    }
    drop(ring);
    for &fd in taken.iter().chain([&a]) {
        assert!(fd_is_open(fd), "{fd} was closed by the ring");
    }
    let mut c_tx = std::fs::File::from(c_tx);
    c_tx.write_all(b"ok").unwrap();
    let mut c_rx = std::fs::File::from(c_rx);
    let mut back = [0u8; 2];
    c_rx.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ok");
    drop((a_rx, b_rx));
}

/// A `Remote` given to `mem::forget` counts as alive for good: `run`
/// goes on serving (it ends only once no remote is alive, or at a
/// shutdown), `run_until` still returns with its future, and a shutdown
/// sent through another remote ends the run, which then returns `Ok`.
/// Jobs sent before run once each.
#[test]
fn a_forgotten_remote_keeps_run_serving_until_a_shutdown() {
    let _watch = watchdog();
    let (to_main, from_reactor) = mpsc::channel();
    let (ran_tx, ran_rx) = mpsc::channel::<u32>();
    let thread = std::thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        let forgotten = reactor.remote();
        std::mem::forget(forgotten);
        let ready = reactor.run_until(async { 5 }).unwrap();
        assert_eq!(ready, 5, "run_until returns with its future");
        to_main.send(reactor.remote()).unwrap();
        let started = std::time::Instant::now();
        let ran = reactor.run();
        (ran.map_err(|e| e.to_string()), started.elapsed())
    });
    let remote = from_reactor.recv_timeout(Duration::from_secs(10)).unwrap();
    for i in 0..3 {
        let ran_tx = ran_tx.clone();
        remote
            .execute(move |_| {
                ran_tx.send(i).unwrap();
            })
            .unwrap();
    }
    let mut ran: Vec<u32> = (0..3)
        .map(|_| ran_rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    ran.sort_unstable();
    assert_eq!(ran, [0, 1, 2]);
    // The run keeps serving: the forgotten remote is alive.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!thread.is_finished(), "run ended with a remote alive");
    remote.shutdown().unwrap();
    drop(remote);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !thread.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "run still serving after the shutdown"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (result, took) = thread.join().unwrap();
    assert_eq!(result, Ok(()));
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(ran_rx.try_recv().is_err(), "a job ran twice");
}

/// A buffer ring whose buffers the kernel allocated (`IOU_PBUF_RING_MMAP`),
/// given to `mem::forget` with one buffer claimed (and that claim
/// forgotten too): the group stays registered (a second registration is
/// `EEXIST`, an error value), the kernel hands out the one buffer left
/// and then none (`ENOBUFS`), never the forgotten claim's again; the
/// ring is dropped after without harm.
#[test]
fn a_forgotten_kernel_allocated_buffer_ring_keeps_its_group_and_its_claim() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let pool = match ring.register_buf_ring_mmap(BufferGroup::new(23), 2, 32) {
        Ok(pool) => pool,
        Err(e) => return skip(format!("kernel-allocated buffer rings: {e}")),
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    /// Receives what is waiting in `rx` through group 23 in a scope:
    /// `(res, buffer id)`, and the bytes when `pool` is given.
    fn receive(ring: &mut Ring, rx: &UnixStream, pool: Option<&BufRing>) -> (i32, Option<u16>) {
        ring.scope(|s| {
            s.push(Recv::new(rx, BufferGroup::new(23).select(32)).user_data(1))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().expect("the receive");
            let out = (cqe.res(), cqe.buffer_id());
            if let (Some(pool), true) = (pool, cqe.res() > 0) {
                let buf = pool.claim(&mut cqe).unwrap();
                std::mem::forget(buf);
            }
            out
        })
    }
    tx.write_all(b"kept").unwrap();
    let (res, kept) = receive(&mut ring, &rx, Some(&pool));
    assert_eq!(res, 4);
    assert!(kept.is_some());
    std::mem::forget(pool);
    tx.write_all(b"left").unwrap();
    let (res, left) = receive(&mut ring, &rx, None);
    assert_eq!(res, 4);
    assert!(left.is_some() && left != kept, "{left:?} after {kept:?}");
    tx.write_all(b"dry").unwrap();
    let (res, none) = receive(&mut ring, &rx, None);
    assert_eq!((res, none), (-libc::ENOBUFS, None));
    assert_eq!(
        errno(&ring.register_buf_ring_mmap(BufferGroup::new(23), 2, 32)),
        Some(libc::EEXIST)
    );
    drop(ring);
    let mut rest = [0u8; 8];
    let mut rx = rx;
    rx.set_nonblocking(true).unwrap();
    assert_eq!(
        rx.read(&mut rest).unwrap(),
        3,
        "the dry receive took nothing"
    );
    assert_eq!(&rest[..3], b"dry");
}

/// `push_owned`'s closure pushes a receive over the owned vector and then
/// panics; the panic is caught inside the scope, which goes on. The
/// vector stays with the op (not freed by the unwinding): the receive
/// completes once, later, with the bytes sent, and its completion hands
/// the vector back once, the kernel's bytes first and the rest as it was.
/// The scope's later owned pushes work as before.
#[test]
fn a_push_owned_closure_panicking_after_its_push_leaves_the_vector_with_the_op() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = s.push_owned(vec![0xEE; 16], |bytes, sq| {
                sq.push(Recv::new(&rx, bytes).user_data(1));
                panic!("the closure panics after its push");
            });
        }));
        assert!(unwound.is_err());
        assert_eq!(s.in_flight(), 1, "the receive is the scope's");
        s.submit().unwrap();
        tx.write_all(b"payload").unwrap();
        s.submit_and_wait(1).unwrap();
        let mut seen = Vec::new();
        for mut cqe in s.completions() {
            seen.push((cqe.user_data(), cqe.res(), cqe.take_buf(), cqe.take_buf()));
        }
        assert_eq!(seen.len(), 1, "one completion: {seen:?}");
        let (ud, res, buf, again) = seen.pop().unwrap();
        assert_eq!((ud, res), (1, 7));
        let buf = buf.expect("the vector comes back with the completion");
        assert_eq!(&buf[..7], b"payload");
        assert!(buf[7..].iter().all(|&b| b == 0xEE));
        assert_eq!(buf.len(), 16);
        assert!(again.is_none(), "the vector is handed back once");
        for i in 0..4u64 {
            s.push_owned(vec![i as u8; 4], |_, sq| {
                sq.push(Nop::new().user_data(10 + i))
            })
            .unwrap();
        }
        s.submit_and_wait(4).unwrap();
        let mut back: Vec<(u64, Option<Vec<u8>>)> = s
            .completions()
            .map(|mut c| (c.user_data(), c.take_buf()))
            .collect();
        back.sort_by_key(|b| b.0);
        let want: Vec<(u64, Option<Vec<u8>>)> = (0..4u64)
            .map(|i| (10 + i, Some(vec![i as u8; 4])))
            .collect();
        assert_eq!(back, want);
    });
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// `push_claimed`'s closure pushes a receive over the claimed buffer and
/// then panics; the panic is caught inside the scope. The buffer stays
/// lent to the receive: the kernel never hands it to another op of the
/// group meanwhile (with two buffers, one receive gets the other and the
/// next finds none, `ENOBUFS`), the waiting receive completes once with
/// the bytes sent later, the other claim's bytes are untouched, and after
/// the scope the ring is whole.
#[test]
fn a_push_claimed_closure_panicking_after_its_push_keeps_the_buffer_from_the_group() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 24, 2, 32) else {
        return;
    };
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..4).map(|_| UnixStream::pair().unwrap()).collect();
    (&pairs[0].0).write_all(b"claimed").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&pairs[0].1, pool.select()).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("the receive");
        let buf = pool.claim(&mut cqe).unwrap();
        drop(cqe);
        let kept = buf.bid();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = s.push_claimed(buf, |bytes, sq| {
                sq.push(Recv::new(&pairs[1].1, bytes).user_data(2));
                panic!("the closure panics after its push");
            });
        }));
        assert!(unwound.is_err());
        assert_eq!(s.in_flight(), 1);
        // Two receives of the group, with their bytes already there.
        (&pairs[2].0).write_all(b"other").unwrap();
        (&pairs[3].0).write_all(b"dry").unwrap();
        s.push(Recv::new(&pairs[2].1, pool.select()).user_data(3))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("the other receive");
        assert_eq!((cqe.user_data(), cqe.res()), (3, 5));
        let other = pool.claim(&mut cqe).unwrap();
        drop(cqe);
        assert_ne!(other.bid(), kept, "the kept buffer was handed out again");
        s.push(Recv::new(&pairs[3].1, pool.select()).user_data(4))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let dry: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(dry, [(4, -libc::ENOBUFS)]);
        // Now the waiting receive gets its bytes.
        (&pairs[1].0).write_all(b"late").unwrap();
        s.submit_and_wait(1).unwrap();
        let late: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(late, [(2, 4)]);
        assert_eq!(&other[..], b"other");
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(pool.lent(), 0);
    assert_eq!(waiting(&pairs[3].1), b"dry");
    assert_pool_whole(&mut ring, &pool, 2, "after the panicking build");
}

/// A multishot accept on a ring whose CQ has two entries takes six
/// connections while the scope reads nothing: most of its completions
/// wait in the kernel's overflow list (Linux 6.18 ends a multishot accept
/// whose completion finds no room, posting the descriptor with its last
/// one). The scope then ends, by returning or by unwinding, on a fast
/// ring and on one that tags every op: every descriptor the kernel
/// posted is closed once (its client reads the end of the stream), none
/// is left open, and connections never accepted are reset when the
/// listener goes. No client waits for ever.
#[test]
fn descriptors_in_the_overflow_list_when_a_scope_ends_are_closed() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(5, 19, "multishot accept") {
        return;
    }
    for tagged in [false, true] {
        for unwind in [false, true] {
            let what = format!("tagged {tagged}, unwind {unwind}");
            let mut ring = Builder::new().cq_entries(2).build(2).unwrap();
            if tagged {
                drop(ring.msg_target().unwrap());
            }
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::new();
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ring.scope(|s| {
                    assert_eq!(s.tags_every_op(), tagged, "{what}");
                    s.push(
                        Accept::new(&listener)
                            .iou_flags(AcceptFlags::MULTISHOT)
                            .user_data(1),
                    )
                    .unwrap();
                    s.submit().unwrap();
                    for _ in 0..6 {
                        clients.push(std::net::TcpStream::connect(addr).unwrap());
                    }
                    // Let the kernel accept them; read nothing.
                    let _ = s.wait_timeout(2, Duration::from_millis(200));
                    std::thread::sleep(Duration::from_millis(50));
                    if unwind {
                        panic!("the scope unwinds with its completions unread");
                    }
                })
            }));
            assert_eq!(ended.is_err(), unwind, "{what}");
            assert!(uring_tests::stray(&mut ring).is_empty(), "{what}");
            drop(listener);
            let mut ends = (0, 0);
            for mut client in clients {
                client
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut byte = [0u8; 1];
                match client.read(&mut byte) {
                    Ok(0) => ends.0 += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => ends.1 += 1,
                    other => panic!("{what}: a client reads {other:?}: its socket is open"),
                }
            }
            // Two fill the CQ; the third goes to the overflow list, with the
            // accept's end.
            assert!(ends.0 >= 3, "{what}: too few accepted: {ends:?}");
        }
    }
}
