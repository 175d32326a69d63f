//! A sixth batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing) to uring's API, for the C files
//! the other `liburing_cases*.rs` leave out: accepts (plain, direct,
//! multishot, cancelled, pending at exit), the path ops (`mkdir.c`,
//! `rename.c`, `unlink.c`, `symlink.c`), pipes made by the ring, writes to
//! standard output, personalities, send and receive bundles over TCP and
//! UDP with ring and legacy buffers, NAPI busy polling over loopback,
//! polled I/O (`IORING_SETUP_IOPOLL`), block-device discards on a loop
//! device, waits kept out of iowait accounting, a short mapping of the SQ
//! ring, and the cases of `futex.c`, `waitid.c` and `poll-cancel-all.c`
//! that no other suite covers. Each test names its C file and asserts what
//! the C test asserts of the kernel (results, errnos, order, counts,
//! flags), and more where it is cheap. Where the C test reaches the kernel
//! in a way uring refuses on purpose (a path at a bad address, flag bits
//! the typed builders do not name, a personality id never registered), the
//! port writes that SQE by hand through `push_raw` and says so.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{
    Accept, Cancel, CancelFd, FutexWait, FutexWaitv, FutexWake, MkdirAt, Nop, OpenAt, Pipe,
    PollAdd, ProvideBuffers, Read, ReadFixed, ReadV, ReadVSelect, Recv, RenameAt, Send, SymlinkAt,
    UnlinkAt, WaitId, Write, WriteFixed, WriteV,
};
use uring::{
    AcceptFlags, BufferGroup, BufferPool, CancelFlags, Cqe, DirectSlot, Fd, Features, FixedFiles,
    FutexFlags, FutexWaitV, PollEvents, RecvFlags, Ring, SendFlags, SqeFlags, WaitIdTarget, sys,
};
use uring_tests::{
    PATIENCE, aligned_blocks, block_bytes, complete, cpath, pairs, pattern, pipe, push_lent,
    raw_sqe, reap_one, reap_sorted, require_kernel, require_op, skip, stray, stray_cqes, wait_cqes,
};

// ---------------------------------------------------------------- helpers

/// The next completion whose `user_data` is not `skip_ud`, waiting for it
/// (each wait bounded by [`PATIENCE`]); how many `skip_ud` ones it passed
/// is added to `skipped`.
fn next_cqe_skipping(ring: &mut Ring, skip_ud: u64, skipped: &mut usize) -> Cqe {
    loop {
        ring.submit().unwrap();
        if let Some(cqe) = ring.peek() {
            ring.advance(1);
            if cqe.user_data() == skip_ud {
                *skipped += 1;
                continue;
            }
            return cqe;
        }
        ring.submit_and_wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("no completion: {e}"));
    }
}

/// Takes ownership of a descriptor an op returned.
fn owned(fd: i32) -> OwnedFd {
    assert!(fd >= 0, "not a descriptor: {fd}");
    // SAFETY: the kernel just returned this descriptor to this process, and
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A ring with an SQ thread, or `None` with a skip message.
fn sqpoll_ring(entries: u32) -> Option<Ring> {
    if !uring_tests::require_sqpoll() {
        return None;
    }
    match Ring::builder()
        .sqpoll(Duration::from_millis(100))
        .build(entries)
    {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no SQPOLL ring: {e}"));
            None
        }
    }
}

/// Runs test `name` of this binary alone in a copy of the process and
/// returns how that copy ended, killing it (and failing) if it has not
/// ended within 15 seconds (120 under valgrind).
fn child_status(name: &str) -> std::process::Output {
    let mut child = uring_tests::child_command(name)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let patience = Duration::from_secs(if uring_tests::under_valgrind() {
        120
    } else {
        15
    });
    let deadline = Instant::now() + patience;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the copy of the test never ended:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

// ---------------------------------------------------------------- accept.c

/// accept.c's `NOP_USER_DATA`.
const NOP_USER_DATA: u64 = 1 << 50;
/// accept.c's `INITIAL_USER_DATA`, of the first multishot accept.
const INITIAL_USER_DATA: u64 = 1000;
/// accept.c's `MAX_FDS`: the connections of a multishot round.
const MAX_FDS: usize = 32;

/// A loopback TCP listener (accept.c's `start_accept_listen`), non-blocking
/// if asked.
fn accept_listener(nonblock: bool) -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(nonblock).unwrap();
    listener
}

/// A client connected to `addr` with `TCP_NODELAY` (accept.c's
/// `set_client_fd`): the handshake completes in the kernel, whether or not
/// an accept is waiting.
fn accept_client(addr: SocketAddr) -> TcpStream {
    let client = TcpStream::connect(addr).unwrap();
    client.set_nodelay(true).unwrap();
    client
}

/// What one accept.c `test()` run asks for.
#[derive(Clone, Copy, Debug, Default)]
struct AcceptArgs {
    /// Accept into slot 0 of a one-slot sparse table.
    fixed: bool,
    /// The listener is non-blocking.
    nonblock: bool,
    /// Queue the accepts before the first client connects.
    before: bool,
    /// Rounds after the first; each queueing queues `1 + extra_loops`
    /// accepts.
    extra_loops: usize,
}

/// Queues `1 + extra_loops` accepts of `listener`, each submitted alone
/// (accept.c's `queue_accept_conn`), into slot 0 of `files` if given.
fn queue_accepts(
    ring: &mut Ring,
    listener: &TcpListener,
    files: Option<&mut FixedFiles>,
    count: usize,
) {
    match files {
        Some(files) => {
            for _ in 0..count {
                let slot = files.get_mut(0).unwrap();
                push_lent!(
                    ring,
                    Accept::new(listener)
                        .direct(DirectSlot::at(slot))
                        .user_data(7)
                )
                .unwrap();
                assert_eq!(ring.submit().unwrap(), 1);
            }
        }
        None => {
            for _ in 0..count {
                push_lent!(ring, Accept::new(listener).user_data(7)).unwrap();
                assert_eq!(ring.submit().unwrap(), 1);
            }
        }
    }
}

/// One accept.c `test()` of a single connection per round, on the ring
/// `make_ring` builds: each round connects a client, takes one accept's
/// completion (a new descriptor, or 0 for slot 0 of the table), then
/// writes 128 bytes from the client (`writev`) and reads them on the
/// accepted socket (`readv`, through the slot if fixed): both complete
/// with 128 and the bytes arrive. The accepts still queued at the end
/// complete with nothing: the ring is dropped with them in flight.
fn accept_test(make_ring: impl FnOnce() -> Ring, args: AcceptArgs) {
    let listener = accept_listener(args.nonblock);
    let addr = listener.local_addr().unwrap();
    let mut ring = make_ring();
    let mut files = if args.fixed {
        Some(ring.register_files_sparse(1).unwrap())
    } else {
        None
    };
    let count = 1 + args.extra_loops;
    if args.before {
        queue_accepts(&mut ring, &listener, files.as_mut(), count);
    }
    for round in 0..count {
        let client = accept_client(addr);
        if !args.before {
            queue_accepts(&mut ring, &listener, files.as_mut(), count);
        }
        let cqe = wait_cqes(&mut ring, 1)[0];
        assert_eq!(cqe.user_data(), 7);
        let sent = pattern(128, round as u8);
        let mut got = [0u8; 128];
        let accepted;
        {
            let out = [IoSlice::new(&sent)];
            let mut into = [IoSliceMut::new(&mut got)];
            push_lent!(ring, WriteV::new(&client, &out).user_data(1)).unwrap();
            if let Some(files) = files.as_ref() {
                assert_eq!(cqe.res(), 0, "a direct accept completes with 0: {cqe:?}");
                accepted = None;
                push_lent!(
                    ring,
                    ReadV::new(files.get(0).unwrap(), &mut into).user_data(2)
                )
                .unwrap();
            } else {
                let fd = owned(cqe.res());
                push_lent!(ring, ReadV::new(&fd, &mut into).user_data(2)).unwrap();
                accepted = Some(fd);
            }
            // Both are reaped before the iovecs go out of scope.
            assert_eq!(reap_sorted(&mut ring, 2), [(1, 128), (2, 128)]);
        }
        uring_tests::net::assert_kernel_bytes(&got, &sent, "what the accepted socket read");
        if let Some(fd) = accepted {
            let peer = TcpStream::from(fd).peer_addr().unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
        }
    }
    assert!(
        stray(&mut ring).is_empty(),
        "an accept completed without a connection"
    );
}

/// accept.c `test_accept(1, false)`: an accept queued after the client
/// connected completes with a working descriptor.
#[test]
fn accept_after_connect() {
    let _watch = uring_tests::watchdog();
    accept_test(|| Ring::new(32).unwrap(), AcceptArgs::default());
}

/// accept.c `test_accept(2, false)` and `test_accept(2, true)`: two rounds,
/// two accepts queued each time (after each connect, or once before the
/// first): each connection is accepted by one of them, in order, and the
/// ones left over wait until the ring goes.
#[test]
fn accept_two_rounds_before_and_after_connect() {
    let _watch = uring_tests::watchdog();
    for before in [false, true] {
        accept_test(
            || Ring::new(32).unwrap(),
            AcceptArgs {
                before,
                extra_loops: 1,
                ..AcceptArgs::default()
            },
        );
    }
}

/// accept.c `test_accept_nonblock(false, 1)`, `(true, 1)` and `(true, 3)`:
/// on a non-blocking listener, an accept queued before the connection
/// waits for it rather than failing with `EAGAIN`.
#[test]
fn accept_nonblocking_listener() {
    let _watch = uring_tests::watchdog();
    for (before, count) in [(false, 1), (true, 1), (true, 3)] {
        accept_test(
            || Ring::new(32).unwrap(),
            AcceptArgs {
                nonblock: true,
                before,
                extra_loops: count - 1,
                ..AcceptArgs::default()
            },
        );
    }
}

/// accept.c `test_accept_fixed`: an accept into slot 0 of a one-slot sparse
/// table completes with 0, and the slot then reads what the client wrote.
#[test]
fn accept_fixed_into_slot_zero() {
    let _watch = uring_tests::watchdog();
    accept_test(
        || Ring::new(32).unwrap(),
        AcceptArgs {
            fixed: true,
            ..AcceptArgs::default()
        },
    );
}

/// accept.c `test_accept_sqpoll`: accepts on a descriptor (not a registered
/// file) through an SQ thread (`IORING_FEAT_SQPOLL_NONFIXED`).
#[test]
fn accept_sqpoll() {
    let _watch = uring_tests::watchdog();
    let Some(probe) = sqpoll_ring(32) else {
        return;
    };
    assert!(
        probe.params().has(Features::SQPOLL_NONFIXED),
        "an SQ thread takes plain descriptors since 5.11"
    );
    drop(probe);
    accept_test(|| sqpoll_ring(32).unwrap(), AcceptArgs::default());
}

/// One accept.c `test()` of a multishot accept (`test_multishot_accept` and
/// `test_multishot_fixed_accept`): 32 clients connect and one multishot
/// accept (armed before or after they do, into free slots of a 32-slot
/// table if `fixed`) takes them all, armed again under the next
/// `user_data` whenever a completion says it ended (no `F_MORE`); a
/// completion that says more will come carries the armed `user_data`.
/// Each completion is a new descriptor, or a slot: the 32 slots are each
/// filled once. With `overflow`, the CQ is first filled with NOPs, and
/// half-way through the connections those at the head are reaped: every
/// NOP still arrives once, and no connection is lost.
fn multishot_accept_test(fixed: bool, before: bool, overflow: bool) {
    let listener = accept_listener(false);
    let addr = listener.local_addr().unwrap();
    let mut ring = Ring::new(MAX_FDS as u32 + 10).unwrap();
    let _files = if fixed {
        Some(ring.register_files_sparse(MAX_FDS as u32).unwrap())
    } else {
        None
    };
    let arm = |ring: &mut Ring, user_data: u64| {
        let accept = Accept::new(&listener)
            .iou_flags(AcceptFlags::MULTISHOT)
            .user_data(user_data);
        if fixed {
            push_lent!(ring, accept.direct(DirectSlot::ALLOC)).unwrap();
        } else {
            push_lent!(ring, accept).unwrap();
        }
        assert_eq!(ring.submit().unwrap(), 1);
    };
    let mut armed = INITIAL_USER_DATA;
    if before {
        arm(&mut ring, armed);
    }
    let nops = if overflow {
        ring.cq_entries() as usize
    } else {
        0
    };
    for _ in 0..nops {
        ring.push(Nop::new().user_data(NOP_USER_DATA)).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
    }
    let mut nops_seen = 0;
    let mut clients = Vec::with_capacity(MAX_FDS);
    for i in 0..MAX_FDS {
        clients.push(accept_client(addr));
        if overflow && i == MAX_FDS / 2 {
            // accept.c's `clear_overflow`: reap the NOPs at the head.
            while let Some(cqe) = ring.peek() {
                if cqe.user_data() != NOP_USER_DATA {
                    break;
                }
                assert_eq!(cqe.res(), 0);
                ring.advance(1);
                nops_seen += 1;
            }
        }
    }
    if !before {
        arm(&mut ring, armed);
    }
    let mut slots = 0u32;
    let mut accepted = Vec::new();
    for i in 0..MAX_FDS {
        let cqe = next_cqe_skipping(&mut ring, NOP_USER_DATA, &mut nops_seen);
        if cqe.has_more() {
            assert_eq!(
                cqe.user_data(),
                armed,
                "a completion after the accept said it ended: {cqe:?}"
            );
        } else {
            assert_eq!(cqe.user_data(), armed, "{cqe:?}");
            armed += 1;
            arm(&mut ring, armed);
        }
        assert!(cqe.res() >= 0, "accept {i}: {cqe:?}");
        if fixed {
            let slot = cqe.res() as u32;
            assert!(slot < MAX_FDS as u32, "slot out of the table: {cqe:?}");
            assert_eq!(slots & (1 << slot), 0, "slot {slot} filled twice");
            slots |= 1 << slot;
        } else {
            accepted.push(owned(cqe.res()));
        }
    }
    if fixed {
        assert_eq!(slots, u32::MAX, "every slot is filled once");
    } else {
        let mut peers: Vec<SocketAddr> = accepted
            .into_iter()
            .map(|fd| TcpStream::from(fd).peer_addr().unwrap())
            .collect();
        let mut locals: Vec<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort_unstable();
        locals.sort_unstable();
        assert_eq!(peers, locals, "each client accepted once");
    }
    // The NOPs of the overflow case all arrive, none twice.
    nops_seen += stray_cqes(&mut ring)
        .iter()
        .inspect(|c| assert_eq!(c.user_data(), NOP_USER_DATA, "{c:?}"))
        .count();
    assert_eq!(nops_seen, nops, "NOP completions");
    if overflow {
        // The first connection found the CQ full: the multishot accept
        // ended there and was armed again.
        assert!(armed > INITIAL_USER_DATA, "the accept never ended");
    }
}

/// accept.c `test_multishot_accept(1, false, false)` and `(1, true,
/// false)`: one multishot accept, armed after or before 32 clients
/// connect, accepts them all.
#[test]
fn accept_multishot() {
    let _watch = uring_tests::watchdog();
    multishot_accept_test(false, false, false);
    multishot_accept_test(false, true, false);
}

/// accept.c `test_multishot_accept(1, true, true)`: the same with a CQ
/// filled with NOPs first, and reaped from the head half-way: the accepts
/// that found no room end the multishot accept (which is armed again) and
/// lose no connection.
#[test]
fn accept_multishot_overflow() {
    let _watch = uring_tests::watchdog();
    multishot_accept_test(false, true, true);
}

/// accept.c `test_multishot_fixed_accept`: a multishot accept into free
/// slots of a 32-slot sparse table fills each slot once.
#[test]
fn accept_multishot_fixed() {
    let _watch = uring_tests::watchdog();
    multishot_accept_test(true, false, false);
}

/// accept.c `test_accept_multishot_wrong_arg`: a multishot accept into a
/// given slot (rather than a free one the kernel picks) fails with
/// `EINVAL`.
#[test]
fn accept_multishot_wrong_arg() {
    let _watch = uring_tests::watchdog();
    let listener = accept_listener(false);
    let mut ring = Ring::new(4).unwrap();
    let mut files = ring.register_files_sparse(2).unwrap();
    push_lent!(
        ring,
        Accept::new(&listener)
            .iou_flags(AcceptFlags::MULTISHOT)
            .direct(DirectSlot::at(files.get_mut(0).unwrap()))
            .user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::EINVAL));
    assert!(!cqe.has_more());
}

/// accept.c `test_accept_cancel(usecs, nr, multishot)`: `nr` accepts (plain
/// or multishot) with no one connecting, each cancelled by its
/// `user_data`, at once or after 10 ms: each accept completes once, with
/// `ECANCELED` (the cancel then with 0) or `EINTR` (the cancel then with
/// `EALREADY`, the accept having been running).
#[test]
fn accept_cancel() {
    let _watch = uring_tests::watchdog();
    for multishot in [false, true] {
        for nr in [1u64, 4] {
            for delay in [0, 10] {
                let listener = accept_listener(false);
                let mut ring = Ring::new(32).unwrap();
                for i in 1..=nr {
                    let accept = Accept::new(&listener).user_data(i);
                    if multishot {
                        push_lent!(ring, accept.iou_flags(AcceptFlags::MULTISHOT)).unwrap();
                    } else {
                        push_lent!(ring, accept).unwrap();
                    }
                    assert_eq!(ring.submit().unwrap(), 1);
                }
                std::thread::sleep(Duration::from_millis(delay));
                for i in 1..=nr {
                    ring.push(Cancel::new(i).user_data(nr + i)).unwrap();
                    assert_eq!(ring.submit().unwrap(), 1);
                }
                let got = uring_tests::by_user_data(&wait_cqes(&mut ring, 2 * nr as usize));
                for i in 1..=nr {
                    let accept = got[&i];
                    let cancel = got[&(nr + i)];
                    assert!(!accept.has_more(), "{accept:?}");
                    match (accept.res(), cancel.res()) {
                        (r, 0) if r == -libc::ECANCELED => {}
                        (r, c) if r == -libc::EINTR && c == -libc::EALREADY => {}
                        other => panic!(
                            "multishot {multishot}, nr {nr}, delay {delay}: accept {i} and its cancel: {other:?}"
                        ),
                    }
                }
                assert!(stray(&mut ring).is_empty());
            }
        }
    }
}

/// accept.c `test_accept_many`: 128 accepts pending on 128 listeners (or
/// all on one), left for 0 or 100 ms, on blocking or non-blocking
/// listeners, their descriptors closed or not: none completes (a
/// completion there could only be a cancellation), and the ring goes
/// with them all in flight. (The C test also lowers `RLIMIT_NPROC`, which
/// binds no root process and would bind every test of this process.)
#[test]
fn accept_many_pending_at_ring_exit() {
    let _watch = uring_tests::watchdog();
    uring_tests::raise_nofile(4096);
    let cases = [
        (0, false, false, false),
        (100, false, false, false),
        (0, true, false, false),
        (0, true, true, true),
    ];
    for (ms, nonblock, single, close_fds) in cases {
        const NR: u64 = 128;
        let mut listeners: Vec<TcpListener> = (0..if single { 1 } else { NR })
            .map(|_| accept_listener(nonblock))
            .collect();
        let mut ring = Ring::new(2 * NR as u32).unwrap();
        for i in 0..NR {
            let listener = &listeners[if single { 0 } else { i as usize }];
            push_lent!(ring, Accept::new(listener).user_data(1 + i)).unwrap();
            assert_eq!(ring.submit().unwrap(), 1);
        }
        std::thread::sleep(Duration::from_millis(ms));
        if close_fds {
            // The accepts hold their files: closing the descriptors ends
            // none of them.
            listeners.clear();
        }
        for cqe in stray_cqes(&mut ring) {
            assert_eq!(cqe.res(), -libc::ECANCELED, "{cqe:?}");
        }
        drop(ring);
        drop(listeners);
    }
}

/// accept.c `test_accept_pending_on_exit`: a process whose only thread
/// waits for an accept no one connects to exits (from a second thread,
/// as the C test's alarm does) with the accept in flight, and its exit
/// completes with status 0.
#[test]
fn accept_pending_on_exit() {
    const NAME: &str = "accept_pending_on_exit";
    if uring_tests::in_child(NAME) {
        let listener = accept_listener(false);
        let mut ring = Ring::new(32).unwrap();
        push_lent!(ring, Accept::new(&listener).user_data(1)).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: ends the process at once, as exit(0) from the C test's
            // signal handler does; nothing of this process runs after it.
            unsafe { libc::_exit(0) };
        });
        let _ = ring.submit_and_wait(1);
        eprintln!("the accept completed with no connection");
        std::process::exit(3);
    }
    let _watch = uring_tests::watchdog();
    let out = child_status(NAME);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------- path ops

/// The address the path tests of liburing pass for a path the kernel cannot
/// read.
const BAD_ADDR: u64 = 0x1234;

/// Runs one SQE written by hand (a path op naming [`BAD_ADDR`], which the
/// typed ops cannot, taking their paths by reference) and returns its
/// result.
///
/// # Safety
///
/// Every address in `sqe` is [`BAD_ADDR`] or points to memory that stays
/// valid until this returns.
unsafe fn raw_path_op(ring: &mut Ring, sqe: sys::io_uring_sqe) -> i32 {
    // SAFETY: forwarded from the caller; the op is reaped before returning.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    let cqe = reap_one(ring);
    assert_eq!(cqe.user_data(), sqe.user_data);
    cqe.res()
}

/// `sqe` with its `addr2` (the `off` word) set.
fn with_addr2(mut sqe: sys::io_uring_sqe, addr2: u64) -> sys::io_uring_sqe {
    sqe.off = sys::io_uring_sqe_off { addr2 };
    sqe
}

/// The mode bits (`0o7777`) of `path`, not following a last link.
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// mkdir.c: `MKDIRAT` makes a directory (mode 0700, relative to the
/// current directory or, in the port as well, to a directory descriptor);
/// again on the same path it fails with `EEXIST`, under a missing parent
/// with `ENOENT`, and on a path at a bad address with `EFAULT`.
#[test]
fn mkdir_mkdirat_results() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<MkdirAt<'static>>(&ring) {
        return;
    }
    let path = dir.path().join("io_uring-mkdirat-test");
    let name = cpath(&path);
    let mkdir = |ring: &mut Ring, p: &std::ffi::CStr| {
        complete(ring, MkdirAt::new(Fd::CWD, p).mode(0o700).user_data(1)).res()
    };
    assert_eq!(mkdir(&mut ring, &name), 0);
    assert!(std::fs::metadata(&path).unwrap().is_dir());
    assert_eq!(mode_of(&path), 0o700);
    assert_eq!(mkdir(&mut ring, &name), -libc::EEXIST);
    let orphan = cpath(&dir.path().join("surely/this/wont/exist"));
    assert_eq!(mkdir(&mut ring, &orphan), -libc::ENOENT);
    assert!(!dir.path().join("surely").exists());

    let parent = File::open(&path).unwrap();
    let cqe = complete(&mut ring, MkdirAt::new(&parent, c"inner").mode(0o750));
    assert_eq!(cqe.res(), 0);
    assert_eq!(mode_of(&path.join("inner")) & 0o700, 0o700);

    let sqe = raw_sqe(
        sys::IORING_OP_MKDIRAT,
        libc::AT_FDCWD,
        BAD_ADDR,
        0o700,
        0,
        9,
    );
    // SAFETY: the only address is the bad one.
    assert_eq!(unsafe { raw_path_op(&mut ring, sqe) }, -libc::EFAULT);
}

/// rename.c: `RENAMEAT` of one existing file over another completes with 0:
/// the old name is gone (`ENOENT`) and the new one holds the old file's
/// bytes; between paths that do not exist it fails with `ENOENT`; with the
/// old or the new path at a bad address, with `EFAULT`.
#[test]
fn rename_renameat_results() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(1).unwrap();
    if !require_op::<RenameAt<'static>>(&ring) {
        return;
    }
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::write(&src, b"the source").unwrap();
    std::fs::write(&dst, b"the destination").unwrap();
    let (csrc, cdst) = (cpath(&src), cpath(&dst));
    let cqe = complete(
        &mut ring,
        RenameAt::new(Fd::CWD, &csrc, Fd::CWD, &cdst).user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    assert_eq!(
        std::fs::metadata(&src).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert_eq!(std::fs::read(&dst).unwrap(), b"the source");

    let cqe = complete(
        &mut ring,
        RenameAt::new(Fd::CWD, c"/x/y/1/2", Fd::CWD, c"/2/1/y/x").user_data(2),
    );
    assert_eq!(cqe.res(), -libc::ENOENT);

    let path = c".foo.bar";
    for bad_old in [false, true] {
        let (old, new) = if bad_old {
            (BAD_ADDR, path.as_ptr() as u64)
        } else {
            (path.as_ptr() as u64, BAD_ADDR)
        };
        let sqe = with_addr2(
            raw_sqe(
                sys::IORING_OP_RENAMEAT,
                libc::AT_FDCWD,
                old,
                libc::AT_FDCWD as u32,
                0,
                3,
            ),
            new,
        );
        // SAFETY: the other address is a static C string.
        let res = unsafe { raw_path_op(&mut ring, sqe) };
        assert_eq!(res, -libc::EFAULT, "bad old path: {bad_old}");
    }
}

/// unlink.c: `UNLINKAT` of a file completes with 0 and the file is gone
/// (`ENOENT`); of a path that does not exist it fails with `ENOENT`; of a
/// path at a bad address with `EFAULT`; with `AT_REMOVEDIR`, it removes a
/// directory. (The port adds: a directory without `AT_REMOVEDIR` is
/// `EISDIR`, and is left in place.)
#[test]
fn unlink_unlinkat_results() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(1).unwrap();
    if !require_op::<UnlinkAt<'static>>(&ring) {
        return;
    }
    let file = dir.path().join("XXXXXX");
    std::fs::write(&file, b"x").unwrap();
    let cfile = cpath(&file);
    let cqe = complete(&mut ring, UnlinkAt::new(Fd::CWD, &cfile).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    assert_eq!(
        std::fs::metadata(&file).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );

    let cqe = complete(&mut ring, UnlinkAt::new(Fd::CWD, c"/3/2/3/1/z/y"));
    assert_eq!(cqe.res(), -libc::ENOENT);

    let sqe = raw_sqe(sys::IORING_OP_UNLINKAT, libc::AT_FDCWD, BAD_ADDR, 0, 0, 2);
    // SAFETY: the only address is the bad one.
    assert_eq!(unsafe { raw_path_op(&mut ring, sqe) }, -libc::EFAULT);

    let sub = dir.path().join(format!(".tmp.dir.{}", std::process::id()));
    std::fs::create_dir(&sub).unwrap();
    let csub = cpath(&sub);
    let cqe = complete(&mut ring, UnlinkAt::new(Fd::CWD, &csub));
    assert_eq!(cqe.res(), -libc::EISDIR);
    assert!(sub.is_dir());
    let cqe = complete(
        &mut ring,
        UnlinkAt::new(Fd::CWD, &csub).unlink_flags(libc::AT_REMOVEDIR),
    );
    assert_eq!(cqe.res(), 0);
    assert!(!sub.exists(), "the directory was removed");
}

/// symlink.c: `SYMLINKAT` makes a link whose contents are the target
/// given; again on the same name it fails with `EEXIST`, under a missing
/// directory with `ENOENT`, and with the link's name or its target at a
/// bad address with `EFAULT`.
#[test]
fn symlink_symlinkat_results() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SymlinkAt<'static>>(&ring) {
        return;
    }
    let target = c"io_uring-symlinkat-test-target";
    let link = dir.path().join("io_uring-symlinkat-test-link");
    let clink = cpath(&link);
    let symlink = |ring: &mut Ring, name: &std::ffi::CStr| {
        complete(ring, SymlinkAt::new(Fd::CWD, target, name).user_data(1)).res()
    };
    assert_eq!(symlink(&mut ring, &clink), 0);
    assert_eq!(
        std::fs::read_link(&link).unwrap().as_os_str(),
        "io_uring-symlinkat-test-target"
    );
    assert_eq!(symlink(&mut ring, &clink), -libc::EEXIST);
    let orphan = cpath(&dir.path().join("surely/this/does/not/exist"));
    assert_eq!(symlink(&mut ring, &orphan), -libc::ENOENT);

    // liburing's `io_uring_prep_symlinkat`: the target in `addr`, the link
    // in `addr2`, its directory in `fd`.
    let spare = dir.path().join("never-made");
    let cspare = cpath(&spare);
    let cases = [
        (target.as_ptr() as u64, BAD_ADDR),
        (BAD_ADDR, cspare.as_ptr() as u64),
    ];
    for (old, new) in cases {
        let sqe = with_addr2(
            raw_sqe(sys::IORING_OP_SYMLINKAT, libc::AT_FDCWD, old, 0, 0, 2),
            new,
        );
        // SAFETY: the other address is a C string alive until the end.
        let res = unsafe { raw_path_op(&mut ring, sqe) };
        assert_eq!(res, -libc::EFAULT, "{old:#x} -> {new:#x}");
    }
    assert!(
        std::fs::symlink_metadata(&spare).is_err(),
        "no link was made with a bad target"
    );
}

// ---------------------------------------------------------------- pipe.c

/// The rings pipe.c runs on: plain, with an SQ thread, with deferred task
/// work (its `init_flags`).
#[derive(Clone, Copy, Debug)]
enum RingKind {
    Plain,
    Sqpoll,
    Defer,
}

impl RingKind {
    /// A ring of this kind with `entries`, or `None` with a skip message.
    fn build(self, entries: u32) -> Option<Ring> {
        match self {
            RingKind::Plain => Some(Ring::new(entries).unwrap()),
            RingKind::Sqpoll => sqpoll_ring(entries),
            RingKind::Defer => uring_tests::defer_ring(entries),
        }
    }
}

/// One pipe.c `pipe_test(init_flags, p)`: a `PIPE` op (forced to a worker
/// if `async_`; into two free slots of a sparse table of 100, or of 1 if
/// `too_small`, if `fixed`) completes with 0, or with `ENFILE` when the
/// table has no room for both ends; then a write of 32 bytes to the write
/// end and a read of the read end (through the slots if `fixed`) each
/// complete with 32, and the bytes arrive.
fn pipe_test(kind: RingKind, fixed: bool, async_: bool, too_small: bool) {
    let Some(mut ring) = kind.build(8) else {
        return;
    };
    let files = if fixed {
        Some(
            ring.register_files_sparse(if too_small { 1 } else { 100 })
                .unwrap(),
        )
    } else {
        None
    };
    let mut fds: [RawFd; 2] = [-1, -1];
    let mut op = Pipe::new(&mut fds).pipe_flags(0).user_data(1);
    if fixed {
        op = op.direct(DirectSlot::ALLOC);
    }
    if async_ {
        op = op.flags(SqeFlags::ASYNC);
    }
    let cqe = complete(&mut ring, op);
    let what = format!("{kind:?}, fixed {fixed}, async {async_}, too small {too_small}");
    if fixed && too_small {
        assert_eq!(cqe.res(), -libc::ENFILE, "{what}");
        assert_eq!(fds, [-1, -1], "{what}: no descriptor written");
        return;
    }
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{what}");
    let src = [0x5au8; 32];
    let mut dst = [0u8; 32];
    let got = match files.as_ref() {
        Some(files) => {
            assert!(
                (0..100).contains(&fds[0]) && (0..100).contains(&fds[1]) && fds[0] != fds[1],
                "{what}: slots {fds:?}"
            );
            let (rx, tx) = (
                files.get(fds[0] as u32).unwrap(),
                files.get(fds[1] as u32).unwrap(),
            );
            ring.scope(|s| {
                s.push(Write::new(tx, &src).user_data(1)).unwrap();
                s.submit().unwrap();
                s.push(Read::new(rx, &mut dst).user_data(2)).unwrap();
                let mut got = pairs(&uring_tests::scope_reap(s, 2));
                got.sort_unstable();
                got
            })
        }
        None => {
            let (rx, tx) = (owned(fds[0]), owned(fds[1]));
            ring.scope(|s| {
                s.push(Write::new(&tx, &src).user_data(1)).unwrap();
                s.submit().unwrap();
                s.push(Read::new(&rx, &mut dst).user_data(2)).unwrap();
                let mut got = pairs(&uring_tests::scope_reap(s, 2));
                got.sort_unstable();
                got
            })
        }
    };
    assert_eq!(got, [(1, 32), (2, 32)], "{what}");
    uring_tests::net::assert_kernel_bytes(&dst, &src, &what);
}

/// pipe.c's eight `params` on one kind of ring.
fn pipe_all_params(kind: RingKind) {
    let ring = Ring::new(1).unwrap();
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    for too_small in [false, true] {
        for fixed in [false, true] {
            for async_ in [false, true] {
                pipe_test(kind, fixed, async_, too_small);
            }
        }
    }
}

/// pipe.c on a plain ring.
#[test]
fn pipe_plain_ring() {
    let _watch = uring_tests::watchdog();
    pipe_all_params(RingKind::Plain);
}

/// pipe.c on an SQPOLL ring.
#[test]
fn pipe_sqpoll_ring() {
    let _watch = uring_tests::watchdog();
    pipe_all_params(RingKind::Sqpoll);
}

/// pipe.c on a ring with deferred task work (`DEFER_TASKRUN |
/// SINGLE_ISSUER`).
#[test]
fn pipe_defer_taskrun_ring() {
    let _watch = uring_tests::watchdog();
    pipe_all_params(RingKind::Defer);
}

// ---------------------------------------------------------------- stdout.c

/// stdout.c `test_stdout_io`: a `WRITEV` of one iovec to standard output
/// completes with its length.
#[test]
fn stdout_writev_to_stdout() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let text = b"This is a pipe test\n";
    let stdout = std::io::stdout();
    let iov = [IoSlice::new(text)];
    let cqe = complete(&mut ring, WriteV::new(stdout.as_fd(), &iov).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, text.len() as i32));
}

/// stdout.c `test_stdout_io_fixed`: a `WRITE_FIXED` to standard output from
/// a registered, page-aligned buffer completes with its length.
#[test]
fn stdout_write_fixed_to_stdout() {
    let _watch = uring_tests::watchdog();
    let text = b"This is a fixed pipe test\n";
    let mut blocks = aligned_blocks(4096);
    let region = block_bytes(&mut blocks);
    region[..text.len()].copy_from_slice(text);
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `blocks` is declared before the ring, so it outlives the
    // registration, and is only read while registered.
    let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(region)]) }.unwrap();
    let stdout = std::io::stdout();
    let cqe = complete(
        &mut ring,
        WriteFixed::new(stdout.as_fd(), &region[..text.len()], bufs.get(0).unwrap()).user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, text.len() as i32));
    ring.unregister_buffers(bufs).unwrap();
}

/// stdout.c `test_pipe_io_fixed`: a `WRITE_FIXED` to a pipe from a
/// registered buffer and a `READV` of the pipe, submitted together, each
/// complete with the length written, and the reader gets the bytes.
#[test]
fn stdout_pipe_write_fixed_and_readv() {
    let _watch = uring_tests::watchdog();
    let text = b"This is a fixed pipe test\n";
    let mut blocks = aligned_blocks(4096);
    let region = block_bytes(&mut blocks);
    region[..text.len()].copy_from_slice(text);
    let (rx, tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `blocks` is declared before the ring, so it outlives the
    // registration, and is only read while registered.
    let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(region)]) }.unwrap();
    let mut buffer = [0u8; 128];
    let mut iov = [IoSliceMut::new(&mut buffer)];
    let got = ring.scope(|s| {
        s.push(WriteFixed::new(&tx, &region[..text.len()], bufs.get(0).unwrap()).user_data(1))
            .unwrap();
        s.push(ReadV::new(&rx, &mut iov).user_data(2)).unwrap();
        assert_eq!(s.submit().unwrap(), 2);
        let mut got = pairs(&uring_tests::scope_reap(s, 2));
        got.sort_unstable();
        got
    });
    let n = text.len() as i32;
    assert_eq!(got, [(1, n), (2, n)]);
    uring_tests::net::assert_kernel_bytes(&buffer[..text.len()], text, "the pipe's bytes");
    ring.unregister_buffers(bufs).unwrap();
}

// ---------------------------------------------------------------- personality.c

/// The user id personality.c switches to.
const USE_UID: libc::uid_t = 1000;

/// Switches the effective user id of the process and back when dropped.
struct EffectiveUid;

impl EffectiveUid {
    /// Becomes `uid`; `None` if the switch is refused.
    fn become_(uid: libc::uid_t) -> Option<EffectiveUid> {
        // SAFETY: changes the effective uid only; restored on drop.
        (unsafe { libc::seteuid(uid) } == 0).then_some(EffectiveUid)
    }
}

impl Drop for EffectiveUid {
    fn drop(&mut self) {
        // SAFETY: the real uid is root's, so the effective one may go back.
        assert_eq!(unsafe { libc::seteuid(0) }, 0, "seteuid(0)");
    }
}

/// personality.c: a file only root may read; root opens it through the
/// ring; after `seteuid(1000)` an open fails with `EACCES`, and one that
/// names the personality registered as root opens it, alone and linked
/// after a NOP. Unregistering the personality succeeds; an open naming a
/// personality id never registered (2) fails with `EINVAL`, and so does
/// unregistering it. (Changing the effective uid changes it for every
/// thread of the process: the checks run in a copy of the test binary.
/// The typed API names only personalities it registered, so the id 2 is
/// written by hand: in a raw SQE and a raw `IORING_UNREGISTER_PERSONALITY`.)
#[test]
fn personality_lends_credentials() {
    uring_tests::in_own_process(
        "personality_lends_credentials",
        "an open that never completed",
        personality_checks,
    );
}

/// The checks of [`personality_lends_credentials`].
fn personality_checks() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("switching credentials needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = dir.path().join(".tmp.access");
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    let cpath = cpath(&path);
    let mut ring = Ring::new(8).unwrap();
    let creds = match ring.register_personality() {
        Ok(p) => p,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no personalities: {e}"));
            return;
        }
        Err(e) => panic!("register_personality: {e}"),
    };
    let open = || OpenAt::new(Fd::CWD, &cpath).open_flags(libc::O_RDONLY | libc::O_CLOEXEC);
    let cqe = complete(&mut ring, open().user_data(2));
    drop(owned(cqe.res()));

    {
        let Some(_as_user) = EffectiveUid::become_(USE_UID) else {
            skip(format_args!("cannot switch to uid {USE_UID}"));
            return;
        };
        let cqe = complete(&mut ring, open().user_data(2));
        assert_eq!(cqe.res(), -libc::EACCES, "as uid {USE_UID}");
        let cqe = complete(&mut ring, open().personality(creds).user_data(2));
        drop(owned(cqe.res()));
        let got = ring.scope(|s| {
            s.push(
                Nop::new()
                    .user_data(1)
                    .link(open().personality(creds).user_data(2)),
            )
            .unwrap();
            let mut got = pairs(&uring_tests::scope_reap(s, 2));
            got.sort_unstable();
            got
        });
        assert_eq!(got[0], (1, 0));
        assert_eq!(got[1].0, 2);
        drop(owned(got[1].1));
    }
    ring.unregister_personality(creds).unwrap();

    let mut sqe = raw_sqe(
        sys::IORING_OP_OPENAT,
        libc::AT_FDCWD,
        cpath.as_ptr() as u64,
        0,
        0,
        3,
    );
    sqe.op_flags = sys::io_uring_sqe_op_flags {
        open_flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u32,
    };
    sqe.personality = 2;
    // SAFETY: the path outlives the op, which is reaped here.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::EINVAL));

    // SAFETY: IORING_UNREGISTER_PERSONALITY takes no argument memory.
    let err = unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_UNREGISTER_PERSONALITY,
            std::ptr::null(),
            2,
        )
    }
    .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
}

// ---------------------------------------------------------------- futex.c

/// futex.c's `NFUTEX`: the words of a vectored wait.
const NFUTEX: usize = 8;

/// futex.c's `fwake`: sets `word` to 1 and wakes one waiter, through a
/// ring of its own; the wake's result.
fn fwake(word: &AtomicU32) -> i32 {
    let mut ring = Ring::new(1).unwrap();
    word.store(1, Ordering::SeqCst);
    complete(&mut ring, FutexWake::new(word, 1).user_data(3)).res()
}

/// futex.c `test(flags, vectored)`, `LOOPS` rounds scaled from 500 to 50:
/// a wait on one word (or a vectored wait on 8), forced to a worker on
/// every third round, a thread per word that sets it to 1 and wakes it,
/// and a cancel of the wait (forced to a worker on every other round).
/// The wait and the cancel each complete once, and nothing after: the
/// wait woken (0, or for a vectored wait the index of a word), finding a
/// word already changed (`EAGAIN`), or cancelled (`ECANCELED`, the cancel
/// then counting 1, or 0 when it took the wait from an io-wq queue before
/// it ran, or `EALREADY` when a worker had taken the wait but not yet
/// started it: the worker then fails it unstarted); otherwise the cancel
/// finds nothing, `ENOENT`, or finds the wait on a worker, `EALREADY`.
fn futex_wait_cancel(ring: &mut Ring, vectored: bool) {
    for round in 0..50 {
        let async_cancel = round % 2 == 0;
        let async_wait = round % 3 == 0;
        let n = if vectored { NFUTEX } else { 1 };
        let words: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
        let waitv: Vec<FutexWaitV<'_>> = words
            .iter()
            .map(|w| FutexWaitV::new(w, 0, FutexFlags::empty()))
            .collect();
        let wait_flags = if async_wait {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let cancel_flags = if async_cancel {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let (wait, cancel, late) = ring.scope(|s| {
            if vectored {
                s.push(FutexWaitv::new(&waitv).flags(wait_flags).user_data(1))
                    .unwrap();
            } else {
                s.push(FutexWait::new(&words[0], 0).flags(wait_flags).user_data(1))
                    .unwrap();
            }
            s.submit().unwrap();
            let got = std::thread::scope(|ts| {
                for w in &words {
                    ts.spawn(move || assert!(fwake(w) >= 0));
                }
                s.push(Cancel::new(1).flags(cancel_flags).user_data(2))
                    .unwrap();
                uring_tests::scope_reap(s, 2)
            });
            let got = uring_tests::by_user_data(&got);
            let late = s.completions().count();
            (got[&1].res(), got[&2].res(), late)
        });
        let what = format!("vectored {vectored}, round {round}: wait {wait}, cancel {cancel}");
        assert_eq!(late, 0, "{what}: a completion after both");
        match wait {
            // Cancelled where it waits (the cancel counts it), before an
            // io-wq worker took it (0), or on a worker that had taken it
            // and not yet started it, which then fails it (`EALREADY`:
            // io-wq flags work it finds on a worker, and the worker checks
            // the flag before it runs the op; seen on a loaded machine).
            r if r == -libc::ECANCELED => assert!(
                cancel == 1 || cancel == 0 || cancel == -libc::EALREADY,
                "{what}"
            ),
            r if r == -libc::EAGAIN || (0..n as i32).contains(&r) => {
                assert!(
                    cancel == -libc::ENOENT || cancel == -libc::EALREADY,
                    "{what}"
                )
            }
            _ => panic!("{what}"),
        }
    }
}

/// Whether this kernel has the futex ops (6.7), with a skip message if not.
fn require_futex() -> bool {
    let ring = Ring::new(1).unwrap();
    require_op::<FutexWait<'static>>(&ring)
}

/// futex.c `test(0, 0)` and `test(0, 1)`: on a plain ring.
#[test]
fn futex_wait_wake_cancel_plain() {
    let _watch = uring_tests::watchdog();
    if !require_futex() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    futex_wait_cancel(&mut ring, false);
    futex_wait_cancel(&mut ring, true);
}

/// futex.c `test(IORING_SETUP_SQPOLL, 0)` and `(.., 1)`.
#[test]
fn futex_wait_wake_cancel_sqpoll() {
    let _watch = uring_tests::watchdog();
    if !require_futex() {
        return;
    }
    let Some(mut ring) = sqpoll_ring(8) else {
        return;
    };
    futex_wait_cancel(&mut ring, false);
    futex_wait_cancel(&mut ring, true);
}

/// futex.c `test(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
/// ..)` and `test(IORING_SETUP_COOP_TASKRUN, ..)`.
#[test]
fn futex_wait_wake_cancel_defer_and_coop() {
    let _watch = uring_tests::watchdog();
    if !require_futex() {
        return;
    }
    if let Some(mut ring) = uring_tests::defer_ring(8) {
        futex_wait_cancel(&mut ring, false);
        futex_wait_cancel(&mut ring, true);
    }
    let mut ring = Ring::builder().coop_taskrun().build(8).unwrap();
    futex_wait_cancel(&mut ring, false);
    futex_wait_cancel(&mut ring, true);
}

/// futex.c `test_order(vectored, async)`: two waits on one word, then a
/// wake of one (forced to a worker if `async`): the wake counts 1 and the
/// first wait is the one woken; the second stays pending (no completion)
/// until a synchronous cancel takes it, which then completes with
/// `ECANCELED`.
#[test]
fn futex_order_first_waiter_woken_first() {
    let _watch = uring_tests::watchdog();
    if !require_futex() {
        return;
    }
    for vectored in [false, true] {
        for async_ in [false, true] {
            let word = AtomicU32::new(0);
            let waitv = [FutexWaitV::new(&word, 0, FutexFlags::empty())];
            let mut ring = Ring::new(8).unwrap();
            ring.scope(|s| {
                for ud in [1, 2] {
                    if vectored {
                        s.push(FutexWaitv::new(&waitv).user_data(ud)).unwrap();
                    } else {
                        s.push(FutexWait::new(&word, 0).user_data(ud)).unwrap();
                    }
                }
                s.submit().unwrap();
                word.store(1, Ordering::SeqCst);
                let flags = if async_ {
                    SqeFlags::ASYNC
                } else {
                    SqeFlags::EMPTY
                };
                s.push(FutexWake::new(&word, 1).flags(flags).user_data(100))
                    .unwrap();
                let mut got = pairs(&uring_tests::scope_reap(s, 2));
                got.sort_unstable();
                // A vectored wait completes with the index of its word.
                assert_eq!(
                    got,
                    [(1, 0), (100, 1)],
                    "vectored {vectored}, async {async_}"
                );
                let _ = s.wait_timeout(1, Duration::from_millis(10));
                assert_eq!(s.ready(), 0, "the second waiter stays");
                s.cancel_sync(uring::SyncCancel::user_data(2), Some(PATIENCE))
                    .unwrap();
                let got = pairs(&uring_tests::scope_reap(s, 1));
                assert_eq!(got, [(2, -libc::ECANCELED)]);
            });
        }
    }
}

/// futex.c `test_multi_wake(vectored)`: two waits on one word and a wake
/// of two: three completions, none an error (the wake counts 2), and
/// nothing after.
#[test]
fn futex_multi_wake_wakes_both() {
    let _watch = uring_tests::watchdog();
    if !require_futex() {
        return;
    }
    for vectored in [false, true] {
        let word = AtomicU32::new(0);
        let waitv = [FutexWaitV::new(&word, 0, FutexFlags::empty())];
        let mut ring = Ring::new(8).unwrap();
        let (got, late) = ring.scope(|s| {
            for ud in [1, 2] {
                if vectored {
                    s.push(FutexWaitv::new(&waitv).user_data(ud)).unwrap();
                } else {
                    s.push(FutexWait::new(&word, 0).user_data(ud)).unwrap();
                }
            }
            s.submit().unwrap();
            word.store(1, Ordering::SeqCst);
            s.push(FutexWake::new(&word, 2).user_data(100)).unwrap();
            let mut got = pairs(&uring_tests::scope_reap(s, 3));
            got.sort_unstable();
            let _ = s.wait_timeout(1, Duration::from_millis(10));
            (got, s.ready())
        });
        assert_eq!(got, [(1, 0), (2, 0), (100, 2)], "vectored {vectored}");
        assert_eq!(late, 0);
    }
}

/// futex.c `test_wake_zero`: a wake of 0 waiters completes with 0 and is
/// the only completion: the waiter stays.
#[test]
fn futex_wake_zero_wakes_nobody() {
    let _watch = uring_tests::watchdog();
    if !require_futex() {
        return;
    }
    let word = AtomicU32::new(0);
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push(FutexWait::new(&word, 0).user_data(1)).unwrap();
        s.submit().unwrap();
        s.push(FutexWake::new(&word, 0).user_data(2)).unwrap();
        assert_eq!(pairs(&uring_tests::scope_reap(s, 1)), [(2, 0)]);
        let _ = s.wait_timeout(1, Duration::from_millis(10));
        assert_eq!(s.ready(), 0, "the wait completed");
        assert_eq!(s.in_flight(), 1);
    });
}

/// futex.c `test_invalid`: a wait, a wake and a vectored wait with an
/// unknown futex flag (0x1000) each fail with `EINVAL`. (`FutexFlags` names
/// only the bits the library models, so the flag is written by hand.)
#[test]
fn futex_invalid_flags() {
    let _watch = uring_tests::watchdog();
    if !require_futex() {
        return;
    }
    /// `struct futex_waitv`.
    #[repr(C)]
    struct RawWaitv {
        val: u64,
        uaddr: u64,
        flags: u32,
        reserved: u32,
    }
    let word = AtomicU32::new(0);
    let mut ring = Ring::new(8).unwrap();
    let addr = word.as_ptr() as u64;
    let wait = {
        let mut sqe = raw_sqe(sys::IORING_OP_FUTEX_WAIT, 0x1000, addr, 0, 0, 1);
        // The futex mask (liburing's `optval`), in `addr3`.
        sqe.addr3 = sys::io_uring_sqe_addr3 {
            addr3: sys::io_uring_sqe_addr3_pad {
                addr3: u64::from(u32::MAX),
                __pad2: [0],
            },
        };
        sqe
    };
    let wake = with_addr2(raw_sqe(sys::IORING_OP_FUTEX_WAKE, 0x1000, addr, 0, 0, 2), 0);
    let waitv = RawWaitv {
        val: 0,
        uaddr: addr,
        flags: sys::FUTEX2_SIZE_U32 | 0x1000,
        reserved: 0,
    };
    let vectored = raw_sqe(
        sys::IORING_OP_FUTEX_WAITV,
        0,
        &waitv as *const RawWaitv as u64,
        1,
        0,
        3,
    );
    for sqe in [wait, wake, vectored] {
        // SAFETY: the word and the waitv outlive the op, reaped here.
        unsafe { ring.push_raw(&[sqe]) }.unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!((cqe.user_data(), cqe.res()), (sqe.user_data, -libc::EINVAL));
    }
}

// ---------------------------------------------------------------- waitid.c

/// Forks a child that sleeps `us` microseconds and exits with status 0
/// (waitid.c's `child`); its pid.
fn fork_child(us: u64) -> libc::pid_t {
    let ts = libc::timespec {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_nsec: ((us % 1_000_000) * 1000) as libc::c_long,
    };
    // SAFETY: the child only calls nanosleep and _exit, both
    // async-signal-safe, on memory it owns.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: as above; the child ends here.
        unsafe {
            libc::nanosleep(&ts, std::ptr::null_mut());
            libc::_exit(0);
        }
    }
    pid
}

/// Reaps child `pid` if it is still there (blocking until it exits);
/// whether it was.
fn reap_child(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: waitpid writes the status into a local.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    if rc == pid {
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        true
    } else {
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ECHILD)
        );
        false
    }
}

/// A zeroed `siginfo_t`.
fn siginfo() -> libc::siginfo_t {
    // SAFETY: all-zero bytes are a valid siginfo_t.
    unsafe { std::mem::zeroed() }
}

/// The pid a `siginfo_t` of `SIGCHLD` names.
fn si_pid(info: &libc::siginfo_t) -> libc::pid_t {
    // SAFETY: the kernel wrote a SIGCHLD siginfo (or the zeroed one is
    // read, which names pid 0).
    unsafe { info.si_pid() }
}

/// Whether this kernel has `WAITID` (6.7), with a skip message if not.
fn require_waitid() -> bool {
    let ring = Ring::new(1).unwrap();
    require_op::<WaitId<'static>>(&ring)
}

/// waitid.c `test`, `test_ready` and `test_double`: a waitid on a child
/// that exits after 100 us, on one that has already exited, and on the
/// second of two children (the first exiting first) each complete with 0,
/// naming the child waited for (`CLD_EXITED`, status 0); the other child
/// is still there to reap.
#[test]
fn waitid_reaps_the_child_named() {
    let _watch = uring_tests::watchdog();
    if !require_waitid() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let reap = |ring: &mut Ring, pid: libc::pid_t| {
        let mut info = siginfo();
        let cqe = complete(
            ring,
            WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info).user_data(1),
        );
        assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
        assert_eq!(si_pid(&info), pid);
        assert_eq!(info.si_code, libc::CLD_EXITED);
        // SAFETY: a SIGCHLD siginfo, filled by the kernel.
        assert_eq!(unsafe { info.si_status() }, 0);
        assert!(!reap_child(pid), "the waitid reaped the child");
    };
    let pid = fork_child(100);
    reap(&mut ring, pid);

    let pid = fork_child(0);
    // Wait until it has exited, leaving it to reap.
    let mut info = siginfo();
    // SAFETY: waitid writes into a local siginfo_t.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(rc, 0);
    reap(&mut ring, pid);

    let first = fork_child(100_000);
    let second = fork_child(200_000);
    reap(&mut ring, second);
    assert!(reap_child(first), "the first child is left to reap");
}

/// waitid.c `test_noexit`, twice: a waitid on a child that lingers for 200
/// ms, linked to a 100 ms timeout: the waitid is cancelled (`ECANCELED`)
/// and the timeout completes with 1 (the count its cancel took), not
/// `ETIME`; the child is still there to reap.
#[test]
fn waitid_noexit_link_timeout() {
    let _watch = uring_tests::watchdog();
    if !require_waitid() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    for _ in 0..2 {
        let pid = fork_child(200_000);
        let mut info = siginfo();
        let got = ring.scope(|s| {
            s.push(
                WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info)
                    .user_data(1)
                    .timeout_with(Duration::from_millis(100), 2),
            )
            .unwrap();
            let mut got = pairs(&uring_tests::scope_reap(s, 2));
            got.sort_unstable();
            got
        });
        assert_eq!(got, [(1, -libc::ECANCELED), (2, 1)]);
        assert!(reap_child(pid), "the child is left to reap");
    }
}

/// waitid.c `test_cancel`: a pending waitid cancelled by its `user_data`
/// completes with `ECANCELED`, and the cancel with 1.
#[test]
fn waitid_cancel() {
    let _watch = uring_tests::watchdog();
    if !require_waitid() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let pid = fork_child(20_000);
    let mut info = siginfo();
    let got = ring.scope(|s| {
        s.push(WaitId::new(WaitIdTarget::pid(pid), libc::WEXITED, &mut info).user_data(1))
            .unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(1).user_data(2)).unwrap();
        let mut got = pairs(&uring_tests::scope_reap(s, 2));
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, -libc::ECANCELED), (2, 1)]);
    assert_eq!(si_pid(&info), 0, "nothing was written");
    assert!(reap_child(pid));
}

/// waitid.c `test_invalid_infop`: a waitid whose `siginfo_t` is at a bad
/// address fails with `EFAULT` once the child exits. (The typed op takes
/// the `siginfo_t` by reference: the SQE is written by hand.)
#[test]
fn waitid_invalid_infop() {
    let _watch = uring_tests::watchdog();
    if !require_waitid() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let pid = fork_child(200_000);
    // liburing's `io_uring_prep_waitid`: the id in `fd`, the id type in
    // `len`, the options in `file_index`, the siginfo in `addr2`.
    let mut sqe = with_addr2(
        raw_sqe(sys::IORING_OP_WAITID, pid, 0, libc::P_PID, 0, 1),
        BAD_ADDR,
    );
    sqe.file = sys::io_uring_sqe_file {
        file_index: libc::WEXITED as u32,
    };
    // SAFETY: the only address is the bad one.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::EFAULT));
    reap_child(pid);
}

/// waitid.c `test_cancel_race(async)`, 1000 rounds scaled to 100: ten
/// children that exit at once, a waitid for any child (forced to a worker
/// on odd rounds) and a cancel of it: the waitid either reaps one child
/// (0) or is cancelled (`ECANCELED`); the cancel counts 1 or 0, or finds
/// nothing (`ENOENT`) or a running wait (`EALREADY`); the children left
/// are all there to reap. (A waitid of any child would reap the children
/// of other tests: the checks run in a copy of the test binary.)
#[test]
fn waitid_cancel_race() {
    uring_tests::in_own_process(
        "waitid_cancel_race",
        "a waitid that never completed",
        || {
            if !require_waitid() {
                return;
            }
            let mut ring = Ring::new(8).unwrap();
            for round in 0..100 {
                let pids: Vec<libc::pid_t> = (0..10).map(|_| fork_child(round % 2)).collect();
                let mut info = siginfo();
                let flags = if round % 2 == 1 {
                    SqeFlags::ASYNC
                } else {
                    SqeFlags::EMPTY
                };
                let got = ring.scope(|s| {
                    s.push(
                        WaitId::new(WaitIdTarget::all(), libc::WEXITED, &mut info)
                            .flags(flags)
                            .user_data(1),
                    )
                    .unwrap();
                    s.submit().unwrap();
                    s.push(Cancel::new(1).user_data(2)).unwrap();
                    uring_tests::by_user_data(&uring_tests::scope_reap(s, 2))
                });
                let (wait, cancel) = (got[&1].res(), got[&2].res());
                assert!(
                    wait == 0 || wait == -libc::ECANCELED,
                    "round {round}: waitid {wait}"
                );
                assert!(
                    [1, 0, -libc::ENOENT, -libc::EALREADY].contains(&cancel),
                    "round {round}: cancel {cancel}"
                );
                let reaped = pids.iter().filter(|&&pid| reap_child(pid)).count();
                if wait == 0 {
                    assert!(pids.contains(&si_pid(&info)), "round {round}");
                    assert_eq!(reaped, 9, "round {round}");
                } else {
                    assert_eq!(reaped, 10, "round {round}");
                }
            }
        },
    );
}

// ---------------------------------------------------------------- poll-cancel-all.c

/// The requests waiting in the ring's poll table, as its
/// `/proc/self/fdinfo` entry lists them under `PollList:`.
fn polled(ring: &Ring) -> usize {
    let path = format!("/proc/self/fdinfo/{}", ring.as_raw_fd());
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .skip_while(|line| !line.starts_with("PollList:"))
        .skip(1)
        .take_while(|line| line.trim_start().starts_with("op="))
        .count()
}

/// Waits until `n` requests of `ring` wait in its poll table, for at most
/// [`PATIENCE`]: the C test's 10 ms sleep, for requests an io-wq worker
/// arms, stands for this wait.
fn wait_until_polled(ring: &Ring, n: usize) {
    let start = Instant::now();
    while polled(ring) < n && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(polled(ring), n, "requests in the poll table");
}

/// poll-cancel-all.c `test2`: 8 polls, alternately on two pipes (`user_data`
/// 0 and 1); a cancel of all the requests on the first pipe's read end
/// counts 4, and the 4 polls on it complete with `ECANCELED`, nothing
/// else; then the same for the second pipe.
#[test]
fn poll_cancel_all_by_fd_leaves_the_other_file() {
    let _watch = uring_tests::watchdog();
    let (a, _a_tx) = pipe();
    let (b, _b_tx) = pipe();
    let mut ring = Ring::new(16).unwrap();
    for i in 0..8u64 {
        let fd = if i % 2 == 0 { &a } else { &b };
        push_lent!(ring, PollAdd::new(fd, PollEvents::IN).user_data(i & 1)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 8);
    for (ud, fd) in [(0, &a), (1, &b)] {
        push_lent!(
            ring,
            CancelFd::new(fd)
                .cancel_flags(CancelFlags::ALL)
                .user_data(100)
        )
        .unwrap();
        let got = pairs(&wait_cqes(&mut ring, 5));
        for (got_ud, res) in &got {
            match got_ud {
                100 => assert_eq!(*res, 4, "{got:?}"),
                u if *u == ud => assert_eq!(*res, -libc::ECANCELED, "{got:?}"),
                _ => panic!("a poll of the other pipe: {got:?}"),
            }
        }
        assert_eq!(got.iter().filter(|c| c.0 == 100).count(), 1);
        assert!(stray(&mut ring).is_empty(), "an extra completion");
    }
}

/// poll-cancel-all.c `test3`: 8 polls, alternately on two pipes, those on
/// the first forced to a worker (which arms them); a cancel of any request
/// with `ALL` counts 8, and all 8 complete with `ECANCELED`.
#[test]
fn poll_cancel_all_any_counts_async_polls() {
    let _watch = uring_tests::watchdog();
    let (a, _a_tx) = pipe();
    let (b, _b_tx) = pipe();
    let mut ring = Ring::new(16).unwrap();
    for i in 0..8u64 {
        if i % 2 == 0 {
            push_lent!(
                ring,
                PollAdd::new(&a, PollEvents::IN)
                    .flags(SqeFlags::ASYNC)
                    .user_data(0)
            )
            .unwrap();
        } else {
            push_lent!(ring, PollAdd::new(&b, PollEvents::IN).user_data(1)).unwrap();
        }
    }
    assert_eq!(ring.submit().unwrap(), 8);
    wait_until_polled(&ring, 8);
    ring.push(
        Cancel::new(0)
            .cancel_flags(CancelFlags::ALL | CancelFlags::ANY)
            .user_data(100),
    )
    .unwrap();
    let got = pairs(&wait_cqes(&mut ring, 9));
    for (ud, res) in &got {
        match ud {
            100 => assert_eq!(*res, 8, "{got:?}"),
            0 | 1 => assert_eq!(*res, -libc::ECANCELED, "{got:?}"),
            _ => panic!("{got:?}"),
        }
    }
    assert!(stray(&mut ring).is_empty());
}

/// poll-cancel-all.c `test4`: 8 reads of an empty pipe forced to a worker
/// (which arms a poll for each); a cancel of any request with `ALL`
/// counts 8, each read completes with `ECANCELED`, and no byte lands in
/// the buffers.
#[test]
fn poll_cancel_all_any_counts_async_reads() {
    let _watch = uring_tests::watchdog();
    let (a, _a_tx) = pipe();
    let mut bufs = [[0xeeu8; 32]; 8];
    let mut ring = Ring::new(16).unwrap();
    // The reads are reaped (all cancelled) before the buffers are read.
    for (i, buf) in bufs.iter_mut().enumerate() {
        push_lent!(
            ring,
            Read::new(&a, buf)
                .flags(SqeFlags::ASYNC)
                .user_data(1 + i as u64)
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 8);
    wait_until_polled(&ring, 8);
    ring.push(
        Cancel::new(0)
            .cancel_flags(CancelFlags::ALL | CancelFlags::ANY)
            .user_data(100),
    )
    .unwrap();
    let got = pairs(&wait_cqes(&mut ring, 9));
    for (ud, res) in &got {
        match ud {
            100 => assert_eq!(*res, 8, "{got:?}"),
            1..=8 => assert_eq!(*res, -libc::ECANCELED, "{got:?}"),
            _ => panic!("{got:?}"),
        }
    }
    assert!(stray(&mut ring).is_empty());
    drop(ring);
    assert!(bufs.iter().flatten().all(|&b| b == 0xee));
}

// ---------------------------------------------------------------- recvsend_bundle.c

/// recvsend_bundle.c's `MSG_SIZE`.
const MSG_SIZE: usize = 128;
/// recvsend_bundle.c's `RECV_BIDS`: the receiver's buffers.
const RECV_BIDS: usize = 16384;
/// recvsend_bundle.c's `SEND_BGID` and `RECV_BGID`.
const SEND_BGID: u16 = 7;
const RECV_BGID: u16 = 8;

/// What one recvsend_bundle.c `test()` runs.
#[derive(Clone, Copy, Debug)]
struct BundleCase {
    /// Messages sent from provided buffers (`nr_msgs`).
    nr_msgs: usize,
    /// Messages sent first with `MSG_DONTWAIT`, to fill the socket, at most
    /// (TCP only).
    max_sends: usize,
    /// Send the provided buffers as bundles (TCP only).
    send_bundle: bool,
    /// Receive as bundles (TCP only).
    recv_bundle: bool,
    /// TCP, or connected UDP.
    tcp: bool,
    /// Legacy provided buffers (`PROVIDE_BUFFERS`) instead of buffer rings.
    classic: bool,
}

/// The receiver's buffers of a [`BundleCase`]: a ring of 16384 buffers of
/// 128 bytes, or as many legacy buffers provided from `region` (which
/// must outlive `ring`).
fn bundle_recv_buffers(
    ring: &mut Ring,
    case: BundleCase,
    region: &mut [u8],
) -> Option<uring::BufRing> {
    if case.classic {
        push_lent!(
            ring,
            ProvideBuffers::new(
                BufferPool::new(region, MSG_SIZE as u32),
                BufferGroup::new(RECV_BGID)
            )
            .user_data(0xb0)
        )
        .unwrap();
        assert_eq!(reap_one(ring).res(), 0);
        None
    } else {
        Some(
            ring.register_buf_ring(
                BufferGroup::new(RECV_BGID),
                RECV_BIDS as u16,
                MSG_SIZE as u32,
            )
            .unwrap(),
        )
    }
}

/// The sender's buffers of a [`BundleCase`], holding `bytes`: a ring of
/// `nr_msgs` buffers of 128 bytes, or as many legacy buffers provided from
/// `region` (which must outlive `ring`).
fn bundle_send_buffers(
    ring: &mut Ring,
    case: BundleCase,
    region: &mut [u8],
    bytes: &[u8],
) -> Option<uring::BufRing> {
    if case.classic {
        region.copy_from_slice(bytes);
        push_lent!(
            ring,
            ProvideBuffers::new(
                BufferPool::new(region, MSG_SIZE as u32),
                BufferGroup::new(SEND_BGID)
            )
            .user_data(0xb1)
        )
        .unwrap();
        assert_eq!(reap_one(ring).res(), 0);
        None
    } else {
        let pool = ring
            .register_buf_ring(
                BufferGroup::new(SEND_BGID),
                case.nr_msgs as u16,
                MSG_SIZE as u32,
            )
            .unwrap();
        uring_tests::fill_send_buffers(ring, &pool, bytes);
        Some(pool)
    }
}

/// One recvsend_bundle.c `test()`: a TCP connection (or connected UDP
/// sockets) on loopback. The receiver's ring (4096 CQEs) takes everything
/// through a multishot receive (a bundle if asked) over 16384 buffers of
/// 128 bytes, armed (again whenever a completion says it ended) once the
/// sender's first send is submitted. The sender first sends messages of
/// 128 bytes (16 sequence numbers each) with `MSG_DONTWAIT` until
/// `max_sends` or `EAGAIN` (TCP), then `nr_msgs` more from as many
/// provided buffers through its own ring: one `SEND` per buffer, each of
/// 128 bytes, or bundles, sent again while bytes are left when one ends.
/// Each receive names the buffer after the previous one's last (the
/// ring's, recycled in order, or the legacy ones in the order provided),
/// one that is not a bundle fills at most one, and the receiver gets the
/// sequence, whole and in order. Returns how many messages the first
/// phase sent.
///
/// (The C test runs the receiver in a thread of its own; here one thread
/// drives both rings in turn, which the kernel cannot tell apart, and
/// which valgrind, running one thread at a time, can run.)
fn bundle_round(case: BundleCase) -> usize {
    let (receiver, conn) = if case.tcp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let conn = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (OwnedFd::from(server), OwnedFd::from(conn))
    } else {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let conn = UdpSocket::bind("127.0.0.1:0").unwrap();
        conn.connect(server.local_addr().unwrap()).unwrap();
        (OwnedFd::from(server), OwnedFd::from(conn))
    };
    // Declared before the rings: the legacy buffers outlive them.
    let mut recv_region = vec![
        0u8;
        if case.classic {
            RECV_BIDS * MSG_SIZE
        } else {
            0
        }
    ];
    let recv_base = recv_region.as_mut_ptr();
    let mut send_region = vec![
        0u8;
        if case.classic {
            case.nr_msgs * MSG_SIZE
        } else {
            0
        }
    ];
    let mut recv_ring = Ring::builder().cq_entries(4096).build(16).unwrap();
    // SAFETY: the legacy buffers' bytes are read only through `recv_base`,
    // once a completion has handed them over.
    let recv_pool = bundle_recv_buffers(&mut recv_ring, case, unsafe {
        std::slice::from_raw_parts_mut(recv_base, recv_region.len())
    });
    let mut send_ring = Ring::new(16).unwrap();
    uring_tests::set_int_option(
        &conn,
        libc::SOL_SOCKET,
        libc::SO_SNDBUF,
        (1024 * MSG_SIZE) as i32,
    )
    .unwrap();
    let mut expected = Vec::new();
    let mut seq = 0u64;
    let mut to_eagain = 0;
    while case.tcp && to_eagain < case.max_sends {
        let msg = uring_tests::seq_bytes(seq, MSG_SIZE / 8);
        // SAFETY: a send on the open socket, from a buffer that lives for
        // the call.
        let n = unsafe {
            libc::send(
                conn.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "send: {e}");
            break;
        }
        // A short send leaves the stream as it is: what went is expected.
        expected.extend_from_slice(&msg[..n as usize]);
        if n as usize != msg.len() {
            break;
        }
        seq += (MSG_SIZE / 8) as u64;
        to_eagain += 1;
    }
    let provided = uring_tests::seq_bytes(seq, case.nr_msgs * MSG_SIZE / 8);
    expected.extend_from_slice(&provided);
    let send_pool = bundle_send_buffers(&mut send_ring, case, &mut send_region, &provided);
    let total = expected.len();
    let needed = case.nr_msgs * MSG_SIZE;
    let send_bundle = case.send_bundle && case.tcp;
    let mut recv_flags = RecvFlags::MULTISHOT;
    if case.recv_bundle && case.tcp {
        recv_flags |= RecvFlags::BUNDLE;
    }
    let recv = || {
        Recv::new(&receiver, BufferGroup::new(RECV_BGID).select(0))
            .recv_flags(recv_flags)
            .user_data(2)
    };
    let send = |i: usize| {
        let op = Send::new(&conn, BufferGroup::new(SEND_BGID).select(0));
        if send_bundle {
            op.send_flags(SendFlags::BUNDLE).user_data(1)
        } else {
            op.user_data(10 + i as u64)
        }
    };
    let mut got = Vec::with_capacity(total);
    send_ring.scope(|ss| {
        recv_ring.scope(|rs| {
            // The buffers sent are held until the end, so that none goes
            // back to the ring while a bundle may still take more.
            let mut sent_bufs = Vec::new();
            let (mut sent, mut sends) = (0usize, 1usize);
            ss.push(send(0)).unwrap();
            assert_eq!(ss.submit().unwrap(), 1);
            rs.push(recv()).unwrap();
            assert_eq!(rs.submit().unwrap(), 1);
            let mut next_bid = 0usize;
            let start = Instant::now();
            while sent < needed || got.len() < total {
                assert!(
                    start.elapsed() < PATIENCE,
                    "{case:?}: sent {sent} of {needed}, received {} of {total}",
                    got.len()
                );
                if sent < needed {
                    let _ = ss.wait_timeout(1, Duration::from_millis(1));
                    let mut again = false;
                    for mut cqe in ss.completions() {
                        assert!(cqe.res() > 0, "bad send cqe res: {:?}", cqe.cqe());
                        sent += cqe.res() as usize;
                        assert!(sent <= needed, "sent {sent} of {needed}");
                        if send_bundle {
                            again |= !cqe.has_more();
                        } else {
                            assert_eq!(cqe.user_data(), 10 + sends as u64 - 1);
                            assert_eq!(cqe.res(), MSG_SIZE as i32, "send failed cqe");
                            again = true;
                        }
                        if let Some(pool) = &send_pool {
                            if send_bundle {
                                sent_bufs.extend(pool.claim_bundle(&mut cqe).unwrap());
                            } else {
                                sent_bufs.push(pool.claim(&mut cqe).unwrap());
                            }
                        }
                    }
                    if again && sent < needed {
                        ss.push(send(sends)).unwrap();
                        sends += 1;
                        ss.submit().unwrap();
                    }
                }
                if got.len() < total {
                    let _ = rs.wait_timeout(1, Duration::from_millis(1));
                    let mut again = false;
                    for mut cqe in rs.completions() {
                        assert!(cqe.res() > 0, "{case:?}: failed recv cqe: {:?}", cqe.cqe());
                        let bid = usize::from(cqe.buffer_id().expect("no buffer set in recv"));
                        assert_eq!(bid, next_bid, "{case:?}: the buffer taken");
                        let n = cqe.res() as usize;
                        if !recv_flags.contains(RecvFlags::BUNDLE) {
                            assert!(n <= MSG_SIZE, "recv got wrong length: {n}");
                        }
                        next_bid = (bid + n.div_ceil(MSG_SIZE)) % RECV_BIDS;
                        match &recv_pool {
                            Some(pool) if recv_flags.contains(RecvFlags::BUNDLE) => {
                                for buf in pool.claim_bundle(&mut cqe).unwrap() {
                                    got.extend_from_slice(&buf);
                                }
                            }
                            Some(pool) => got.extend_from_slice(&pool.claim(&mut cqe).unwrap()),
                            None => {
                                assert!(bid * MSG_SIZE + n <= RECV_BIDS * MSG_SIZE);
                                // SAFETY: the completion hands these bytes
                                // of the legacy buffers over; the kernel
                                // no longer writes them (no buffer is
                                // provided twice).
                                got.extend_from_slice(unsafe {
                                    std::slice::from_raw_parts(recv_base.add(bid * MSG_SIZE), n)
                                });
                            }
                        }
                        again |= !cqe.has_more();
                    }
                    if again && got.len() < total {
                        rs.push(recv()).unwrap();
                        rs.submit().unwrap();
                    }
                }
            }
            if !send_bundle {
                assert_eq!(sends, case.nr_msgs, "one send per buffer");
            }
        })
    });
    uring_tests::net::assert_kernel_bytes(&got, &expected, "the sequence received");
    drop(recv_ring);
    drop(send_ring);
    drop(recv_region);
    drop(send_region);
    to_eagain
}

/// Whether this kernel has send and receive bundles, with a skip message
/// if not.
fn require_bundles() -> bool {
    let mut ring = Ring::new(1).unwrap();
    uring_tests::require_features(&ring, Features::RECVSEND_BUNDLE, "send bundles")
        && uring_tests::plain_buf_ring(&mut ring, 1, 1, 64).is_some()
}

/// recvsend_bundle.c tests a, b and c: 4 messages from provided buffers,
/// one send each, into a plain multishot receive; into a receive bundle;
/// and as send bundles into a receive bundle.
fn bundle_basic(tcp: bool, classic: bool) {
    if !require_bundles() {
        return;
    }
    for (send_bundle, recv_bundle) in [(false, false), (false, true), (true, true)] {
        bundle_round(BundleCase {
            nr_msgs: 4,
            max_sends: 0,
            send_bundle,
            recv_bundle,
            tcp,
            classic,
        });
    }
}

/// recvsend_bundle.c tests d to j (TCP): the socket filled to `EAGAIN`
/// before both kinds of bundle, then filled to half of `nr_msgs` short of
/// that before bundles on both sides, a receive bundle only, and a send
/// bundle only; then the last three with 32 messages, more segments than
/// the kernel's fast iovec array.
fn bundle_full_socket(classic: bool) {
    if !require_bundles() {
        return;
    }
    let case = |nr_msgs, max_sends, send_bundle, recv_bundle| BundleCase {
        nr_msgs,
        max_sends,
        send_bundle,
        recv_bundle,
        tcp: true,
        classic,
    };
    let mut eagain_hit = bundle_round(case(4, 1_000_000, true, true));
    assert!(eagain_hit > 16, "the socket took {eagain_hit} messages");
    bundle_round(case(4, eagain_hit - 2, true, true));
    bundle_round(case(4, eagain_hit - 2, false, true));
    // Test g's count is what h to j fill to (as the C test passes it on).
    eagain_hit = bundle_round(case(4, eagain_hit - 2, true, false));
    bundle_round(case(32, eagain_hit - 16, true, true));
    bundle_round(case(32, eagain_hit - 16, false, true));
    bundle_round(case(32, eagain_hit - 16, true, false));
}

/// recvsend_bundle.c tests a to c over TCP, with buffer rings.
#[test]
fn recvsend_bundle_tcp_ring() {
    let _watch = uring_tests::watchdog();
    bundle_basic(true, false);
}

/// recvsend_bundle.c tests d to j over TCP, with buffer rings.
#[test]
fn recvsend_bundle_tcp_ring_full_socket() {
    let _watch = uring_tests::watchdog();
    bundle_full_socket(false);
}

/// recvsend_bundle.c tests a to c over connected UDP, with buffer rings:
/// each datagram is one receive of 128 bytes (bundles apply to TCP only).
#[test]
fn recvsend_bundle_udp_ring() {
    let _watch = uring_tests::watchdog();
    bundle_basic(false, false);
}

/// recvsend_bundle.c tests a to c over TCP, with legacy provided buffers
/// (`classic_buffers`).
#[test]
fn recvsend_bundle_tcp_classic() {
    let _watch = uring_tests::watchdog();
    bundle_basic(true, true);
}

/// recvsend_bundle.c tests d to j over TCP, with legacy provided buffers.
#[test]
fn recvsend_bundle_tcp_classic_full_socket() {
    let _watch = uring_tests::watchdog();
    bundle_full_socket(true);
}

/// recvsend_bundle.c tests a to c over connected UDP, with legacy provided
/// buffers.
#[test]
fn recvsend_bundle_udp_classic() {
    let _watch = uring_tests::watchdog();
    bundle_basic(false, true);
}

// ---------------------------------------------------------------- napi-test.c

/// The bytes napi-test.c's sender writes, scaled from 8 MiB to 2 MiB.
const NAPI_BYTES: usize = 2 << 20;
/// napi-test.c's `BUF_SIZE`.
const NAPI_BUF: usize = 4096;

/// One napi-test.c run on the ring `kind` (its `receiver(queue_flags)`,
/// over loopback rather than a veth pair between two namespaces): the
/// ring registers NAPI busy polling (50 us, preferred), accepts one
/// connection, and receives with one `RECV` of 4096 bytes at a time until
/// the end of the stream, while the sender writes 2 MiB of a counting
/// byte pattern: the bytes arrive whole and in order. (The C test's
/// sender is another process; here the same thread writes what the
/// socket takes, without blocking, before each receive, which valgrind,
/// running one thread at a time, can run.)
fn napi_receive(kind: RingKind) {
    let Some(mut ring) = kind.build(8) else {
        return;
    };
    match ring.register_napi(Duration::from_micros(50), true) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no NAPI busy polling (6.9): {e}"));
            return;
        }
        Err(e) => panic!("register_napi: {e}"),
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    sender.set_nonblocking(true).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let stream: Vec<u8> = (0..NAPI_BYTES).map(|i| i as u8).collect();
    let mut written = 0usize;
    let mut received = 0usize;
    let mut buffer = vec![0u8; NAPI_BUF];
    loop {
        while written < NAPI_BYTES {
            let end = (written + NAPI_BUF).min(NAPI_BYTES);
            match sender.write(&stream[written..end]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write failed: {e}"),
            }
            if written == NAPI_BYTES {
                sender.shutdown(std::net::Shutdown::Write).unwrap();
            }
        }
        let cqe = complete(&mut ring, Recv::new(&conn, &mut buffer[..]).user_data(1));
        assert!(cqe.res() >= 0, "{kind:?}: recv failed: {cqe:?}");
        let n = cqe.res() as usize;
        if n == 0 {
            break;
        }
        assert!(received + n <= written, "more than was written");
        uring_tests::net::assert_kernel_bytes(
            &buffer[..n],
            &stream[received..received + n],
            "the stream",
        );
        received += n;
    }
    assert_eq!(received, NAPI_BYTES, "{kind:?}");
    ring.unregister_napi().unwrap();
}

/// napi-test.c with queue flags 0.
#[test]
fn napi_test_plain_ring() {
    let _watch = uring_tests::watchdog();
    napi_receive(RingKind::Plain);
}

/// napi-test.c with queue flags 0x3000 (`SINGLE_ISSUER | DEFER_TASKRUN`).
#[test]
fn napi_test_defer_taskrun_ring() {
    let _watch = uring_tests::watchdog();
    napi_receive(RingKind::Defer);
}

/// napi-test.c with queue flags 0x2 (`SQPOLL`).
#[test]
fn napi_test_sqpoll_ring() {
    let _watch = uring_tests::watchdog();
    napi_receive(RingKind::Sqpoll);
}

// ---------------------------------------------------------------- iopoll.c

/// iopoll.c's `FILE_SIZE`, `BS` and `BUFFERS`.
const IOPOLL_FILE: usize = 128 * 1024;
const IOPOLL_BS: usize = 4096;
const IOPOLL_BUFFERS: usize = IOPOLL_FILE / IOPOLL_BS;

/// The block I/O `i` of a round touches: a permutation, so that each
/// block is written once and a read's bytes are known (the C test picks
/// offsets at random).
fn iopoll_block(i: usize) -> usize {
    (i * 7 + 3) % IOPOLL_BUFFERS
}

/// The bytes block `k` of the test file always holds: every write writes
/// them again.
fn iopoll_bytes(k: usize) -> Vec<u8> {
    pattern(IOPOLL_BS, k as u8)
}

/// The test file of iopoll.c: 128 KiB of [`iopoll_bytes`].
fn iopoll_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join(".basic-rw");
    let bytes: Vec<u8> = (0..IOPOLL_BUFFERS).flat_map(iopoll_bytes).collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// What one iopoll.c `test_io` asks for.
#[derive(Clone, Copy, Debug)]
struct IopollCase {
    write: bool,
    /// The file through a registered slot (the C test's `sqthread`, which
    /// registers the file but sets up no SQ thread).
    registered: bool,
    /// Registered buffers, through `READ_FIXED` / `WRITE_FIXED` on even I/Os.
    fixed: bool,
    hybrid: bool,
    /// Reads into legacy provided buffers (reads only, no fixed buffers).
    buf_select: bool,
    defer: bool,
}

/// Checks `results` (one per I/O) all equal: `IOPOLL_BS`, or all
/// `EOPNOTSUPP` where the device cannot poll; whether the I/O was done.
fn iopoll_results(case: &dyn std::fmt::Debug, results: &[i32]) -> bool {
    assert_eq!(results.len(), IOPOLL_BUFFERS);
    if results[0] == -libc::EOPNOTSUPP {
        assert!(
            results.iter().all(|&r| r == -libc::EOPNOTSUPP),
            "{case:?}: {results:?}"
        );
        return false;
    }
    assert!(
        results.iter().all(|&r| r == IOPOLL_BS as i32),
        "{case:?}: {results:?}"
    );
    true
}

/// One iopoll.c `test_io`: an `IOPOLL` ring (hybrid and with deferred
/// task work if asked) runs 32 `O_DIRECT` reads or writes of 4 KiB, each
/// into or from its own buffer, all submitted at once: each completes
/// with 4096 (and a read gets its block's bytes), or, where the device
/// cannot poll, each with `EOPNOTSUPP`. `None` when skipped, else whether
/// the I/O was done.
fn iopoll_io(path: &std::path::Path, case: IopollCase) -> Option<bool> {
    let write = case.write && !case.buf_select;
    let fixed = case.fixed && !case.buf_select;
    let mut builder = Ring::builder().iopoll();
    if case.hybrid {
        builder = builder.hybrid_iopoll();
    }
    if case.defer {
        builder = builder.single_issuer().defer_taskrun();
    }
    let mut blocks = aligned_blocks(IOPOLL_FILE);
    if write {
        for (i, block) in blocks.iter_mut().enumerate() {
            block.0.copy_from_slice(&iopoll_bytes(iopoll_block(i)));
        }
    }
    let mut ring = match builder.build(64) {
        Ok(ring) => ring,
        Err(e) if case.hybrid && e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no hybrid polling (6.13): {e}"));
            return None;
        }
        Err(e) => panic!("{case:?}: {e}"),
    };
    let file = uring_tests::open_direct(path, write)?;
    let files = case
        .registered
        .then(|| ring.register_files(&[file.as_fd()]).unwrap());
    let bufs = fixed.then(|| {
        let iovs: Vec<IoSliceMut<'_>> = blocks
            .iter_mut()
            .map(|b| IoSliceMut::new(&mut b.0))
            .collect();
        // SAFETY: `blocks` is declared before the ring, so it outlives the
        // registration; it is touched only between rounds of ops.
        unsafe { ring.register_buffers(&iovs) }.unwrap()
    });
    let group = BufferGroup::new(1);
    if case.buf_select {
        for (i, block) in blocks.iter_mut().enumerate() {
            push_lent!(
                ring,
                ProvideBuffers::new(BufferPool::new(&mut block.0, IOPOLL_BS as u32), group)
                    .start_id(i as u16)
                    .user_data(0xb0)
            )
            .unwrap();
        }
        // The buffers are read only after the ring is dropped, when the
        // kernel holds none of them.
        let got = wait_cqes(&mut ring, IOPOLL_BUFFERS);
        assert!(got.iter().all(|c| c.res() >= 0), "{:?}", pairs(&got));
    }
    let target: Fd<'_> = Fd::new(file.as_fd());
    let cap = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: IOPOLL_BS,
    };
    let mut results = vec![0; IOPOLL_BUFFERS];
    let mut picked = [None; IOPOLL_BUFFERS];
    {
        let base = blocks.as_mut_ptr();
        for i in 0..IOPOLL_BUFFERS {
            // SAFETY: block `i` of `blocks`, lent to one op alone, which is
            // reaped below before the blocks are touched.
            let buf = unsafe { &mut (*base.add(i)).0 };
            let off = (iopoll_block(i) * IOPOLL_BS) as u64;
            let ud = i as u64;
            macro_rules! push_io {
                ($t:expr) => {{
                    let t = $t;
                    if case.buf_select {
                        push_lent!(
                            ring,
                            ReadVSelect::new(t, &cap, group).offset(off).user_data(ud)
                        )
                        .map_err(drop)
                    } else if fixed && i % 2 == 0 {
                        let index = bufs.as_ref().unwrap().get(i as u32).unwrap();
                        if write {
                            push_lent!(
                                ring,
                                WriteFixed::new(t, &buf[..], index)
                                    .offset(off)
                                    .user_data(ud)
                            )
                            .map_err(drop)
                        } else {
                            push_lent!(
                                ring,
                                ReadFixed::new(t, &mut buf[..], index)
                                    .offset(off)
                                    .user_data(ud)
                            )
                            .map_err(drop)
                        }
                    } else if write {
                        push_lent!(ring, Write::new(t, &buf[..]).offset(off).user_data(ud))
                            .map_err(drop)
                    } else {
                        push_lent!(ring, Read::new(t, &mut buf[..]).offset(off).user_data(ud))
                            .map_err(drop)
                    }
                }};
            }
            match files.as_ref() {
                Some(files) => push_io!(files.get(0).unwrap()),
                None => push_io!(target),
            }
            .unwrap();
        }
        for cqe in wait_cqes(&mut ring, IOPOLL_BUFFERS) {
            let i = cqe.user_data() as usize;
            results[i] = cqe.res();
            picked[i] = cqe.buffer_id();
        }
    }
    drop(ring);
    let done = iopoll_results(&case, &results);
    if done && !write {
        for (i, picked) in picked.iter().enumerate() {
            let block = if case.buf_select {
                usize::from(picked.expect("a provided buffer"))
            } else {
                i
            };
            uring_tests::net::assert_kernel_bytes(
                &blocks[block].0,
                &iopoll_bytes(iopoll_block(i)),
                "a polled read",
            );
        }
    }
    if done && write {
        let now = std::fs::read(path).unwrap();
        let want: Vec<u8> = (0..IOPOLL_BUFFERS).flat_map(iopoll_bytes).collect();
        assert!(now == want, "{case:?}: the file changed");
    }
    Some(done)
}

/// iopoll.c's loop over `test_io(write, sqthread, fixed, hybrid,
/// buf_select, defer)`, all 64 combinations. (The C test stops once the
/// device is found unable to poll; the port goes on, each combination
/// then failing every I/O alike with `EOPNOTSUPP`.)
#[test]
fn iopoll_read_write_variants() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = iopoll_file(dir.path());
    // Whether reads, and writes, were polled: the same in every variant.
    let mut polled = [None, None];
    for i in 0..64 {
        let case = IopollCase {
            write: i & 1 != 0,
            registered: i & 2 != 0,
            fixed: i & 4 != 0,
            hybrid: i & 8 != 0,
            buf_select: i & 16 != 0,
            defer: i & 32 != 0,
        };
        if let Some(done) = iopoll_io(&path, case) {
            let write = usize::from(case.write && !case.buf_select);
            assert!(
                polled[write].is_none_or(|p| p == done),
                "{case:?}: some variants polled and some not"
            );
            polled[write] = Some(done);
        }
    }
    for (what, polled) in ["reads", "writes"].iter().zip(polled) {
        if polled == Some(false) {
            skip(format_args!(
                "this file's device cannot poll {what}: each failed with EOPNOTSUPP"
            ));
        }
    }
}

/// iopoll.c `test_io_uring_submit_enters`: after 32 `O_DIRECT` writes are
/// submitted to an `IOPOLL` ring, a `submit` with nothing to submit still
/// enters the kernel to poll (`GETEVENTS`): completions appear within 500
/// of them, 10 ms apart; every write completes with 4096 (or each with
/// `EOPNOTSUPP` where the device cannot poll).
#[test]
fn iopoll_submit_enters() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = iopoll_file(dir.path());
    let mut blocks = aligned_blocks(IOPOLL_FILE);
    for (i, block) in blocks.iter_mut().enumerate() {
        block.0.copy_from_slice(&iopoll_bytes(iopoll_block(i)));
    }
    let Some(file) = uring_tests::open_direct(&path, true) else {
        return;
    };
    let mut ring = Ring::builder().iopoll().build(64).unwrap();
    let iovs: Vec<[IoSlice<'_>; 1]> = blocks.iter().map(|b| [IoSlice::new(&b.0)]).collect();
    for (i, iov) in iovs.iter().enumerate() {
        let off = (iopoll_block(i) * IOPOLL_BS) as u64;
        push_lent!(
            ring,
            WriteV::new(&file, iov).offset(off).user_data(i as u64)
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), IOPOLL_BUFFERS as u32);
    let mut seen = false;
    for _ in 0..500 {
        assert_eq!(ring.submit().unwrap(), 0, "nothing was left to submit");
        if ring.ready() > 0 {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(seen, "no completion after 500 submits");
    let results: Vec<i32> = wait_cqes(&mut ring, IOPOLL_BUFFERS)
        .iter()
        .map(Cqe::res)
        .collect();
    iopoll_results(&"submit_enters", &results);
}

/// iopoll.c `test_io_uring_cqe_peek`: on an `IOPOLL` ring, peeking at the
/// CQ enters the kernel to poll: 32 `O_DIRECT` reads submitted once are all
/// reaped by peeks alone, within [`PATIENCE`] (the C test's alarm gives 5
/// s).
#[test]
fn iopoll_cqe_peek_polls() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = iopoll_file(dir.path());
    let mut blocks = aligned_blocks(IOPOLL_FILE);
    let Some(file) = uring_tests::open_direct(&path, false) else {
        return;
    };
    let mut ring = Ring::builder().iopoll().build(64).unwrap();
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = blocks
        .iter_mut()
        .map(|b| [IoSliceMut::new(&mut b.0)])
        .collect();
    for (i, iov) in iovs.iter_mut().enumerate() {
        let off = (iopoll_block(i) * IOPOLL_BS) as u64;
        push_lent!(ring, ReadV::new(&file, iov).offset(off).user_data(i as u64)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), IOPOLL_BUFFERS as u32);
    let start = Instant::now();
    let mut results = vec![0; IOPOLL_BUFFERS];
    let mut seen = 0;
    while seen < IOPOLL_BUFFERS {
        assert!(start.elapsed() < PATIENCE, "only {seen} completions peeked");
        if let Some(cqe) = ring.peek() {
            ring.advance(1);
            results[cqe.user_data() as usize] = cqe.res();
            seen += 1;
        }
    }
    drop(ring);
    drop(iovs);
    if iopoll_results(&"cqe_peek", &results) {
        for (i, block) in blocks.iter().enumerate() {
            uring_tests::net::assert_kernel_bytes(
                &block.0,
                &iopoll_bytes(iopoll_block(i)),
                "a polled read",
            );
        }
    }
}

// ---------------------------------------------------------------- cmd-discard.c

/// `BLKROSET` of `<linux/fs.h>`.
const BLKROSET: libc::c_ulong = 0x125D;
/// cmd-discard.c's `MAX_TEST_LBAS`.
const MAX_TEST_LBAS: u64 = 1024;
/// The logical block size of the loop device.
const LBA: u64 = uring_tests::block::LBA;
/// The size of the loop device: 8192 blocks.
const LOOP_BYTES: u64 = 4 << 20;

/// Opens the block device `path` for `O_DIRECT` I/O, exclusively, as
/// cmd-discard.c does.
fn open_block(path: &std::path::Path, write: bool) -> File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT | libc::O_EXCL)
        .open(path)
        .unwrap()
}

/// Sets the block device `device` read-only or writable (`BLKROSET`).
fn set_read_only(device: &File, on: bool) {
    let on = libc::c_int::from(on);
    // SAFETY: BLKROSET reads an int that outlives the call.
    let rc = unsafe { libc::ioctl(device.as_raw_fd(), BLKROSET, &on) };
    assert_eq!(rc, 0, "BLKROSET: {}", std::io::Error::last_os_error());
}

/// A discard of `len` bytes at `offset` of `device`; its result.
fn discard(ring: &mut Ring, device: &File, offset: u64, len: u64) -> i32 {
    use uring::BlockDevice;
    use uring::ops::BlockDiscard;
    let target = BlockDevice::new(device).unwrap();
    complete(ring, BlockDiscard::new(target, offset, len).user_data(1)).res()
}

/// Whether this kernel has block-device commands (6.12) and a loop device
/// can be attached; the device, with a skip message if not.
fn discard_device(dir: &std::path::Path) -> Option<(std::path::PathBuf, File)> {
    if !require_kernel(6, 12, "block commands") {
        return None;
    }
    uring_tests::block::loop_device(dir, LOOP_BYTES, 0)
}

/// cmd-discard.c `basic_cmd_test` on a loop device of 512-byte blocks:
/// discards of 1 block at 0, 15 at 7 and 1023 at 1 complete with 0. (The
/// C test verifies nothing for a discard; the port writes a pattern over
/// each range and one block past it first, and reads back zeros in the
/// range, the loop device punching a hole in its file, and the pattern
/// past it.)
#[test]
fn cmd_discard_basic_ranges() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((path, _attached)) = discard_device(dir.path()) else {
        return;
    };
    let device = open_block(&path, true);
    let mut ring = Ring::new(16).unwrap();
    let mut blocks = aligned_blocks(4096);
    for (lba, n) in [(0u64, 1u64), (7, 15), (1, MAX_TEST_LBAS - 1)] {
        let buf = &mut block_bytes(&mut blocks)[..LBA as usize];
        for i in lba..=lba + n {
            buf.copy_from_slice(&pattern(LBA as usize, i as u8 | 1));
            buf[0] = 0xff;
            let rc = pwrite_at(&device, buf, i * LBA);
            assert_eq!(rc, LBA as isize);
        }
        assert_eq!(
            discard(&mut ring, &device, lba * LBA, n * LBA),
            0,
            "{lba} {n}"
        );
        for i in lba..=lba + n {
            let rc = pread_at(&device, buf, i * LBA);
            assert_eq!(rc, LBA as isize);
            if i < lba + n {
                assert!(buf.iter().all(|&b| b == 0), "block {i} was discarded");
            } else {
                assert_eq!(buf[0], 0xff, "block {i}, past the range, was kept");
            }
        }
    }
}

/// `pwrite(2)` of `buf` at `offset`.
fn pwrite_at(file: &File, buf: &[u8], offset: u64) -> isize {
    use std::os::unix::fs::FileExt;
    match file.write_at(buf, offset) {
        Ok(n) => n as isize,
        Err(e) => panic!("pwrite: {e}"),
    }
}

/// `pread(2)` into `buf` at `offset`.
fn pread_at(file: &File, buf: &mut [u8], offset: u64) -> isize {
    use std::os::unix::fs::FileExt;
    match file.read_at(buf, offset) {
        Ok(n) => n as isize,
        Err(e) => panic!("pread: {e}"),
    }
}

/// cmd-discard.c `test_parallel`, 1000 discards scaled to 200: discards of
/// 8 blocks at random places, up to 16 in flight, half of them forced to a
/// worker at random: each completes with 0.
#[test]
fn cmd_discard_parallel() {
    use uring::BlockDevice;
    use uring::ops::BlockDiscard;
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((path, _attached)) = discard_device(dir.path()) else {
        return;
    };
    let device = open_block(&path, true);
    let target = BlockDevice::new(&device).unwrap();
    let mut ring = Ring::new(16).unwrap();
    let mut rng = uring_tests::Rng(0x5eed_d15c);
    let (mut left, mut inflight, mut done) = (200u32, 0u32, 0u32);
    while left > 0 || inflight > 0 {
        while inflight < 16 && left > 0 {
            let off = rng.below(MAX_TEST_LBAS - 8) * LBA;
            let flags = if rng.below(2) == 1 {
                SqeFlags::ASYNC
            } else {
                SqeFlags::EMPTY
            };
            // The device is open until the end of the test, after every
            // discard is reaped.
            push_lent!(
                ring,
                BlockDiscard::new(target, off, 8 * LBA)
                    .flags(flags)
                    .user_data(u64::from(left)),
            )
            .unwrap();
            left -= 1;
            inflight += 1;
        }
        ring.submit_and_wait_timeout(1, PATIENCE).unwrap();
        for cqe in ring.completions() {
            assert_eq!(cqe.res(), 0, "{cqe:?}");
            inflight -= 1;
            done += 1;
        }
    }
    assert_eq!(done, 200);
}

/// cmd-discard.c `test_rdonly`: a discard through a descriptor opened
/// read-only fails with `EBADF`; through one opened for writing on a
/// device set read-only (`BLKROSET`), with `EPERM`; and once it is
/// writable again, the discard works.
#[test]
fn cmd_discard_read_only() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((path, _attached)) = discard_device(dir.path()) else {
        return;
    };
    let mut ring = Ring::new(16).unwrap();
    let read_only = open_block(&path, false);
    assert_eq!(discard(&mut ring, &read_only, 0, LBA), -libc::EBADF);
    drop(read_only);
    let device = open_block(&path, true);
    set_read_only(&device, true);
    let res = discard(&mut ring, &device, 0, LBA);
    set_read_only(&device, false);
    assert_eq!(res, -libc::EPERM, "a discard of a read-only device");
    assert_eq!(discard(&mut ring, &device, 0, LBA), 0);
}

/// cmd-discard.c `test_fail_edge_cases`: discards past the end of the
/// device, across its end, of a range whose end overflows, at an offset
/// or of a length that is not a multiple of the block size: each fails
/// with `EINVAL`.
#[test]
fn cmd_discard_edge_cases() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((path, _attached)) = discard_device(dir.path()) else {
        return;
    };
    let device = open_block(&path, true);
    let mut ring = Ring::new(16).unwrap();
    let lbas = LOOP_BYTES / LBA;
    let cases = [
        ("beyond capacity", lbas * LBA, LBA),
        ("across the end", (lbas - 1) * LBA, 2 * LBA),
        ("range overflow", LBA.wrapping_neg(), LBA + 2),
        ("unaligned offset", LBA / 2, LBA),
        ("unaligned size", 0, LBA / 2),
    ];
    for (what, offset, len) in cases {
        assert_eq!(
            discard(&mut ring, &device, offset, len),
            -libc::EINVAL,
            "{what}"
        );
    }
}

// ------------------------------------------------------- cmd-zone-reset-all.c

/// A reset of every zone of `device`; its result.
fn zone_reset_all(ring: &mut Ring, device: &File) -> i32 {
    use uring::BlockDevice;
    use uring::ops::BlockZoneResetAll;
    let target = BlockDevice::new(device).unwrap();
    complete(ring, BlockZoneResetAll::new(target).user_data(7)).res()
}

/// cmd-zone-reset-all.c `basic_cmd_test` and `test_rdonly` on a loop
/// device, which has no zones. A kernel with the command fails the reset
/// with `EOPNOTSUPP` through a writable descriptor, `EBADF` through a
/// read-only one and `EPERM` on a device set read-only (`BLKROSET`); a
/// kernel without it (6.18 and before) fails each with `EINVAL`, the
/// device's answer to a command it does not know. Either way the bytes
/// written before read back unchanged. (The C test skips on `EINVAL` and
/// `EOPNOTSUPP`, which is all a device without zones gives; the port
/// asserts which, and the data.)
#[test]
fn cmd_zone_reset_all_of_a_device_without_zones() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((path, _attached)) = discard_device(dir.path()) else {
        return;
    };
    let mut ring = Ring::new(16).unwrap();
    // Opened exclusively, as the C test does: one descriptor at a time.
    let read_only = open_block(&path, false);
    let through_read_only = zone_reset_all(&mut ring, &read_only);
    drop(read_only);
    let device = open_block(&path, true);
    let mut blocks = aligned_blocks(4096);
    let buf = &mut block_bytes(&mut blocks)[..LBA as usize];
    buf.copy_from_slice(&pattern(LBA as usize, 0x5a));
    assert_eq!(pwrite_at(&device, buf, 3 * LBA), LBA as isize);
    let res = zone_reset_all(&mut ring, &device);
    let known = match -res {
        libc::EOPNOTSUPP => true,
        libc::EINVAL => false,
        _ => panic!("a zone reset of a loop device: {res}"),
    };
    if !known {
        println!("note: this kernel lacks BLOCK_URING_CMD_ZONE_RESET_ALL (7.3): EINVAL");
    }
    let expect = |errno: i32| if known { -errno } else { -libc::EINVAL };
    assert_eq!(through_read_only, expect(libc::EBADF), "read-only");
    set_read_only(&device, true);
    let res = zone_reset_all(&mut ring, &device);
    set_read_only(&device, false);
    assert_eq!(res, expect(libc::EPERM), "a reset of a read-only device");
    buf.fill(0);
    assert_eq!(pread_at(&device, buf, 3 * LBA), LBA as isize);
    assert_eq!(buf, &pattern(LBA as usize, 0x5a)[..], "the device's bytes");
}

// ---------------------------------------------------------------- iowait.c

/// iowait.c `test(ring, with_iowait, 0)`, without its measure: with waits
/// kept out of iowait accounting (`set_iowait(false)`, which passes
/// `IORING_ENTER_NO_IOWAIT`) and then counted again, a read of an empty
/// pipe leaves a wait with a timeout to time out (`ETIME`), and once the
/// pipe is closed the read completes with 0. (The C test also reads
/// `/proc/stat` to see the CPU's iowait time grow, or not, during a 1 s
/// wait: a measure of time, which load from other tests would skew, and
/// which is left out; the wait here is 100 ms.) A kernel without
/// `IORING_FEAT_NO_IOWAIT` refuses `set_iowait(false)`.
#[test]
fn iowait_waits_with_and_without_iowait() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    if !ring.params().has(Features::NO_IOWAIT) {
        assert!(matches!(
            ring.set_iowait(false),
            Err(uring::Error::Unsupported(_))
        ));
        skip("no IORING_FEAT_NO_IOWAIT (6.15)");
        return;
    }
    for with_iowait in [false, true] {
        ring.set_iowait(with_iowait).unwrap();
        let (rx, tx) = pipe();
        let mut buf = [0u8; 32];
        let res = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf).user_data(1)).unwrap();
            s.submit().unwrap();
            let waited = s.wait_timeout(1, Duration::from_millis(100));
            assert!(
                matches!(waited, Err(uring::Error::TimedOut)),
                "iowait {with_iowait}: {waited:?}"
            );
            assert_eq!(s.ready(), 0);
            drop(tx);
            let cqe = uring_tests::scope_reap(s, 1)[0];
            (cqe.user_data(), cqe.res())
        });
        assert_eq!(res, (1, 0), "iowait {with_iowait}: end of file");
    }
}

// ---------------------------------------------------------------- ignore-single-mmap.c

/// ignore-single-mmap.c: on a kernel with `IORING_FEAT_SINGLE_MMAP`, the
/// SQ ring of a ring of 128 entries maps at `IORING_OFF_SQ_RING` with a
/// length of only `128 * 4` bytes, shorter than the ring itself (the
/// kernel ignores a short length there).
#[test]
fn ignore_single_mmap_short_sq_ring_mapping() {
    let ring = Ring::new(128).unwrap();
    if !uring_tests::require_features(&ring, Features::SINGLE_MMAP, "a single mapping") {
        return;
    }
    let len = 128 * std::mem::size_of::<u32>();
    // SAFETY: a new shared mapping of the ring's descriptor, at an address
    // the kernel picks; unmapped below, never touched.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            ring.as_raw_fd(),
            sys::IORING_OFF_SQ_RING,
        )
    };
    assert_ne!(
        ptr,
        libc::MAP_FAILED,
        "ring sqe array mmap: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the mapping made just above, of `len` bytes.
    assert_eq!(unsafe { libc::munmap(ptr, len) }, 0);
}
