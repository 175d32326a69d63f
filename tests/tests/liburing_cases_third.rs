//! A third batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing) to uring's API, for what
//! `liburing_cases.rs` and `liburing_cases_more.rs` leave out: each test
//! names its C file and asserts what the C test asserts of the kernel
//! (results, errnos, order, counts, flags). Where the C test reaches the
//! kernel in a way uring refuses on purpose, the comment says so and the
//! port keeps what uring can express.

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::ops::{Nop, PollAdd, Read, ReadV, WriteV};
use uring::{Cqe, Features, PollEvents, Ring, SqeFlags, sys};
use uring_tests::{
    PATIENCE, pairs, pipe, push_lent, raw_sqe, reap_sorted, require_features, skip, stray,
    submit_and_reap, tcp_pair,
};

// ---------------------------------------------------------------- helpers

/// Waits, submitting nothing, until `n` completions have arrived, and
/// returns them as `(user_data, res)`, sorted by `user_data`.
fn wait_sorted(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    while got.len() < n {
        ring.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got.sort_unstable();
    got
}

/// Writes `bytes` to the pipe or socket `fd`.
fn write_to(fd: &OwnedFd, bytes: &[u8]) {
    std::fs::File::from(fd.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// A new eventfd, close-on-exec (and non-blocking if asked).
fn eventfd(nonblock: bool) -> OwnedFd {
    let flags = libc::EFD_CLOEXEC | if nonblock { libc::EFD_NONBLOCK } else { 0 };
    // SAFETY: eventfd takes plain integers.
    let fd = unsafe { libc::eventfd(0, flags) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Sets or clears `O_NONBLOCK` on `fd`.
fn set_nonblock(fd: BorrowedFd<'_>, on: bool) {
    // SAFETY: F_GETFL and F_SETFL on an open descriptor.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        assert_eq!(libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags), 0);
    }
}

/// A new timerfd on `CLOCK_MONOTONIC`, close-on-exec, not armed.
fn timerfd() -> OwnedFd {
    // SAFETY: timerfd_create takes plain integers.
    let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) };
    assert!(
        fd >= 0,
        "timerfd_create: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: timerfd_create just returned this descriptor, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Arms the timerfd `timer` to fire once, `after` from now.
fn arm_timerfd(timer: &OwnedFd, after: Duration) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs() as libc::time_t,
            tv_nsec: after.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: an open timerfd and a valid itimerspec.
    let rc = unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    assert_eq!(
        rc,
        0,
        "timerfd_settime: {}",
        std::io::Error::last_os_error()
    );
}

/// A file in `dir` named `name`, `len` bytes of `byte`; its path as a C
/// string.
fn pattern_file(dir: &std::path::Path, name: &str, len: usize, byte: u8) -> std::ffi::CString {
    let path = dir.join(name);
    std::fs::write(&path, vec![byte; len]).unwrap();
    std::ffi::CString::new(path.to_str().unwrap()).unwrap()
}

// ---------------------------------------------------------------- pipe-eof.c

/// pipe-eof.c: a read of an empty pipe waits; the writer writes a string
/// and closes its end: the read returns the string's bytes, and the reads
/// after it 0 (end of file), never an error. (The C test writes from a
/// thread; here the writes come between the submit and the wait, so that
/// no second thread has to run while the ring waits.)
#[test]
fn pipe_eof_reads_return_the_bytes_then_zero() {
    let _watch = uring_tests::watchdog();
    let text: &[u8] = b"This is a test string";
    let (rx, tx) = pipe();
    let mut writer = Some(std::fs::File::from(tx));
    let mut ring = Ring::new(8).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let res = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            assert_eq!(s.submit().unwrap(), 1);
            if let Some(mut w) = writer.take() {
                std::thread::sleep(Duration::from_millis(10));
                assert_eq!(s.ready(), 0, "a read of an empty pipe completed");
                w.write_all(text).unwrap();
                // The write end closes here.
            }
            s.wait_timeout(1, PATIENCE).unwrap();
            s.completions().next().unwrap().res()
        });
        assert!(res >= 0, "read error {res}");
        if res == 0 {
            break;
        }
        got.extend_from_slice(&buf[..res as usize]);
        assert!(got.len() <= text.len(), "more bytes than written: {got:?}");
    }
    assert_eq!(got, text);
}

// ---------------------------------------------------------------- sq-full.c

/// sq-full.c: a ring of 8 entries hands out exactly 8 SQEs; the ninth push
/// is refused as a full queue, handing the op back.
#[test]
fn sq_full_a_ring_of_eight_takes_eight_sqes() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut pushed = 0;
    while ring.push(Nop::new().user_data(pushed)).is_ok() {
        pushed += 1;
        assert!(pushed <= 8, "more than 8 SQEs");
    }
    assert_eq!(pushed, 8);
    assert_eq!(ring.space_left(), 0);
    let refused = ring.push(Nop::new().user_data(99)).unwrap_err();
    assert_eq!(refused.kind(), uring::PushErrorKind::QueueFull);
    assert_eq!(ring.pending(), 8);
    let got = reap_sorted(&mut ring, 8);
    assert_eq!(got, (0..8).map(|i| (i, 0)).collect::<Vec<_>>());
}

// ---------------------------------------------------------------- teardowns.c

/// teardowns.c: twelve threads each set up and tear down a ring of 0xa4
/// entries 50 times; every setup succeeds (with 256 SQ entries, the size
/// rounded up) or fails only for lack of memory.
#[test]
fn teardowns_rings_set_up_and_torn_down_from_many_threads() {
    let _watch = uring_tests::watchdog();
    let threads: Vec<_> = (0..12)
        .map(|_| {
            std::thread::spawn(|| {
                let mut failures = Vec::new();
                for _ in 0..50 {
                    match Ring::new(0xa4) {
                        Ok(ring) => {
                            if ring.sq_entries() != 256 {
                                failures.push(format!("{} SQ entries", ring.sq_entries()));
                            }
                            drop(ring);
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {}
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                failures
            })
        })
        .collect();
    for thread in threads {
        let failures = thread.join().unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
}

// ---------------------------------------------------------------- timerfd-short-read.c, evfd-short-read.c

/// timerfd-short-read.c: a read of 16 bytes from a timerfd armed 10 ms
/// after the read was submitted completes once the timer fires, with the
/// 8 bytes of the expiry count (at least 1).
#[test]
fn timerfd_short_read_completes_with_the_eight_byte_count() {
    let _watch = uring_tests::watchdog();
    let timer = timerfd();
    let mut buf = [0u8; 16];
    let mut ring = Ring::new(8).unwrap();
    let res = ring.scope(|s| {
        s.push(Read::new(&timer, &mut buf[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        arm_timerfd(&timer, Duration::from_millis(10));
        s.wait_timeout(1, PATIENCE).expect("the read completes");
        let cqe = s.completions().next().unwrap();
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(res, (1, 8));
    let count = u64::from_ne_bytes(buf[..8].try_into().unwrap());
    assert!(count >= 1, "expiry count {count}");
}

/// evfd-short-read.c: a read of 16 bytes from an empty non-blocking
/// eventfd, submitted before the eventfd is written, completes once 1 is
/// written, with the 8 bytes of the value 1.
#[test]
fn evfd_short_read_completes_with_the_eight_byte_value() {
    let _watch = uring_tests::watchdog();
    let efd = eventfd(true);
    let mut buf = [0u8; 16];
    let mut ring = Ring::new(8).unwrap();
    let res = ring.scope(|s| {
        s.push(Read::new(&efd, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(s.ready(), 0, "the read waits for a value");
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to an open eventfd.
        let written = unsafe { libc::write(efd.as_raw_fd(), one.as_ptr().cast(), 8) };
        assert_eq!(written, 8);
        s.wait_timeout(1, PATIENCE).expect("the read completes");
        let cqe = s.completions().next().unwrap();
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(res, (1, 8));
    assert_eq!(u64::from_ne_bytes(buf[..8].try_into().unwrap()), 1);
}

// ---------------------------------------------------------------- poll-update-trigger.c

/// poll-update-trigger.c: a poll for `POLLIN` on a pipe's write end never
/// fires; updated to `POLLOUT`, it fires at once: the update completes
/// with 0 and the poll with `POLLOUT`.
#[test]
fn poll_update_trigger_adding_pollout_fires_the_poll() {
    use uring::ops::PollUpdate;
    let _watch = uring_tests::watchdog();
    let (_rx, tx) = pipe();
    let mut ring = Ring::new(4).unwrap();
    push_lent!(ring, PollAdd::new(&tx, PollEvents::IN).user_data(1)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(stray(&mut ring), [], "a pipe's write end is never readable");
    ring.push(PollUpdate::new(1).events(PollEvents::OUT).user_data(2))
        .unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 2),
        [(1, libc::POLLOUT as i32), (2, 0)]
    );
}

// ---------------------------------------------------------------- buf-ring-put.c

/// buf-ring-put.c: ten buffer rings of 512 entries (groups 60 to 69) are
/// registered, then all unregistered (dropped); the memory goes with them
/// and each group is free again: registering the ten anew succeeds, and a
/// read through one of them picks its buffer.
#[test]
fn buf_ring_put_unregistered_groups_can_be_registered_again() {
    use uring::BufferGroup;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    for round in 0..2 {
        let mut pools = Vec::new();
        for bgid in 60..70 {
            match ring.register_buf_ring(BufferGroup::new(bgid), 512, 64) {
                Ok(pool) => pools.push(pool),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    skip(format_args!("no provided-buffer rings: {e}"));
                    return;
                }
                Err(e) => panic!("round {round}, group {bgid}: {e}"),
            }
        }
        let (rx, tx) = pipe();
        write_to(&tx, b"picked");
        let pool = &pools[round];
        let got = ring.scope(|s| {
            s.push(Read::new(&rx, pool.select()).user_data(1)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 6, "{cqe:?}");
            pool.claim(&mut cqe).unwrap().to_vec()
        });
        assert_eq!(got, b"picked");
        drop(pools);
    }
}

// ---------------------------------------------------------------- accept-non-empty.c

/// accept-non-empty.c: with one connection queued, its accept's completion
/// does not carry `IORING_CQE_F_SOCK_NONEMPTY`; with eight queued, every
/// accept but the last does. On a plain and a deferred-task-work ring,
/// accepting regular descriptors or into fixed slots.
#[test]
fn accept_non_empty_flags_every_accept_but_the_last() {
    use uring::DirectSlot;
    use uring::ops::Accept;
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        for fixed in [false, true] {
            for conns in [1usize, 8] {
                let mut ring = if defer {
                    match uring_tests::defer_ring(8) {
                        Some(r) => r,
                        None => return,
                    }
                } else {
                    Ring::new(8).unwrap()
                };
                if !require_features(&ring, Features::RECVSEND_BUNDLE, "SOCK_NONEMPTY on accept") {
                    return;
                }
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let clients: Vec<TcpStream> = (0..conns)
                    .map(|_| TcpStream::connect(addr).unwrap())
                    .collect();
                let mut table = ring.register_files_sparse(8).unwrap();
                let mut accepted = Vec::new();
                for i in 0..conns {
                    let cqe = if fixed {
                        uring_tests::complete(
                            &mut ring,
                            Accept::new(&listener)
                                .direct(DirectSlot::at(table.get_mut(i as u32).unwrap())),
                        )
                    } else {
                        uring_tests::complete(&mut ring, Accept::new(&listener))
                    };
                    let case = format!("defer {defer} fixed {fixed} conns {conns} accept {i}");
                    assert!(cqe.res() >= 0, "{case}: {cqe:?}");
                    if fixed {
                        assert_eq!(cqe.res(), 0, "{case}");
                    } else {
                        // SAFETY: the accept just returned this descriptor.
                        accepted.push(unsafe { OwnedFd::from_raw_fd(cqe.res()) });
                    }
                    let last = i + 1 == conns;
                    assert_eq!(cqe.sock_nonempty(), !last, "{case}: {cqe:?}");
                }
                ring.unregister_files(table).unwrap();
                drop(clients);
            }
        }
    }
}

// ---------------------------------------------------------------- accept-reuse.c

/// accept-reuse.c: on a ring of one SQE, an accept (with room for the
/// peer's address) is submitted, and the one SQE slot is then reused for a
/// connect to the listener: the kernel took the accept at submission, so
/// both complete, the accept with a descriptor and the peer's address (the
/// connecting socket's), the connect with 0.
#[test]
fn accept_reuse_the_sqe_slot_reused_after_submit() {
    use uring::SockAddrBuf;
    use uring::ops::{Accept, Connect};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    if !require_features(&ring, Features::SUBMIT_STABLE, "stable submissions") {
        return;
    }
    assert_eq!(ring.sq_entries(), 1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = uring::SockAddr::from(listener.local_addr().unwrap());
    let client = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let mut peer = SockAddrBuf::new();
    let got = ring.scope(|s| {
        s.push(Accept::new(&listener).peer(Some(&mut peer)).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        assert_eq!(s.space_left(), 1, "the slot is free again");
        s.push(Connect::new(&client, &target).user_data(2)).unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(got[0].0, 1);
    assert!(got[0].1 >= 0, "accept: {got:?}");
    // SAFETY: the accept returned this descriptor.
    drop(unsafe { OwnedFd::from_raw_fd(got[0].1) });
    assert_eq!(got[1], (2, 0), "connect: {got:?}");
    let local = uring_tests::local_addr(client.as_fd()).unwrap();
    assert_eq!(peer.socket_addr(), Some(local));
}

// ---------------------------------------------------------------- cancel-fd-userdata.c

/// cancel-fd-userdata.c `test_cancel_fd_userdata`: four polls on a pipe's
/// read end (by descriptor, then through a registered file) with
/// `user_data` 1 to 4; a cancel matching that file and `user_data` 2
/// cancels that poll alone (it completes `ECANCELED`, the cancel with 0);
/// a cancel of the file with `ALL` then finds the other three.
#[test]
fn cancel_fd_userdata_cancels_only_the_poll_matching_both() {
    use uring::CancelFlags;
    use uring::ops::CancelFd;
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    for fixed in [false, true] {
        let files = ring.register_files(&[rx.as_fd()]).unwrap();
        let slot = files.get(0).unwrap();
        for ud in 1..=4u64 {
            if fixed {
                push_lent!(ring, PollAdd::new(slot, PollEvents::IN).user_data(ud)).unwrap();
            } else {
                push_lent!(ring, PollAdd::new(&rx, PollEvents::IN).user_data(ud)).unwrap();
            }
        }
        assert_eq!(ring.submit().unwrap(), 4);
        // Matching on the file and `user_data` 2 at once
        // (`IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_USERDATA`).
        if fixed {
            push_lent!(ring, CancelFd::new(slot).target_user_data(2).user_data(100)).unwrap();
        } else {
            push_lent!(ring, CancelFd::new(&rx).target_user_data(2).user_data(100)).unwrap();
        }
        let got = reap_sorted(&mut ring, 2);
        if got
            .iter()
            .any(|&(ud, res)| ud == 100 && res == -libc::EINVAL)
        {
            skip("no IORING_ASYNC_CANCEL_USERDATA with IORING_ASYNC_CANCEL_FD (6.6)");
            return;
        }
        assert_eq!(got, [(2, -libc::ECANCELED), (100, 0)], "fixed {fixed}");
        assert_eq!(stray(&mut ring), [], "fixed {fixed}: another poll ended");
        if fixed {
            push_lent!(
                ring,
                CancelFd::new(slot)
                    .cancel_flags(CancelFlags::ALL)
                    .user_data(200)
            )
            .unwrap();
        } else {
            push_lent!(
                ring,
                CancelFd::new(&rx)
                    .cancel_flags(CancelFlags::ALL)
                    .user_data(200)
            )
            .unwrap();
        }
        assert_eq!(
            reap_sorted(&mut ring, 4),
            [
                (1, -libc::ECANCELED),
                (3, -libc::ECANCELED),
                (4, -libc::ECANCELED),
                (200, 3)
            ],
            "fixed {fixed}"
        );
        ring.unregister_files(files).unwrap();
    }
}

/// cancel-fd-userdata.c `test_cancel_fd_userdata_two_fds`: polls (pipe 1,
/// `user_data` 1), (pipe 2, 1) and (pipe 1, 2); a cancel matching pipe 1
/// and `user_data` 1 cancels the first alone; a cancel of `ANY | ALL` then
/// finds the other two.
#[test]
fn cancel_fd_userdata_tells_the_same_user_data_on_two_files_apart() {
    use uring::CancelFlags;
    use uring::ops::{Cancel, CancelFd};
    let _watch = uring_tests::watchdog();
    let (rx1, _tx1) = pipe();
    let (rx2, _tx2) = pipe();
    let mut ring = Ring::new(8).unwrap();
    push_lent!(ring, PollAdd::new(&rx1, PollEvents::IN).user_data(1)).unwrap();
    push_lent!(ring, PollAdd::new(&rx2, PollEvents::IN).user_data(1)).unwrap();
    push_lent!(ring, PollAdd::new(&rx1, PollEvents::IN).user_data(2)).unwrap();
    assert_eq!(ring.submit().unwrap(), 3);
    push_lent!(ring, CancelFd::new(&rx1).target_user_data(1).user_data(100)).unwrap();
    let got = reap_sorted(&mut ring, 2);
    if got
        .iter()
        .any(|&(ud, res)| ud == 100 && res == -libc::EINVAL)
    {
        skip("no IORING_ASYNC_CANCEL_USERDATA with IORING_ASYNC_CANCEL_FD (6.6)");
        return;
    }
    assert_eq!(got, [(1, -libc::ECANCELED), (100, 0)]);
    assert_eq!(stray(&mut ring), []);
    ring.push(
        Cancel::new(0)
            .cancel_flags(CancelFlags::ANY | CancelFlags::ALL)
            .user_data(200),
    )
    .unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 3),
        [(1, -libc::ECANCELED), (2, -libc::ECANCELED), (200, 2)]
    );
}

// ---------------------------------------------------------------- connect-rep.c

/// connect-rep.c: 32 connects, one after the other, of a bound socket to a
/// port bound by a socket that does not listen each fail with
/// `ECONNREFUSED`, on a plain ring and on an SQPOLL ring whose thread has
/// gone to sleep.
#[test]
fn connect_rep_repeated_connects_are_each_refused() {
    use uring::ops::Connect;
    let _watch = uring_tests::watchdog();
    for sqpoll in [false, true] {
        let mut ring = if sqpoll {
            if !uring_tests::require_sqpoll() {
                return;
            }
            Ring::builder()
                .sqpoll(Duration::from_millis(50))
                .build(8)
                .unwrap()
        } else {
            Ring::new(8).unwrap()
        };
        let server = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
        let bind = |fd: &OwnedFd| {
            let addr = uring::SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0)));
            // SAFETY: an open socket and an address of `len` bytes.
            let rc = unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len()) };
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        };
        bind(&server);
        let target = uring::SockAddr::from(uring_tests::local_addr(server.as_fd()).unwrap());
        let client = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
        bind(&client);
        if sqpoll {
            std::thread::sleep(Duration::from_millis(100));
        }
        for i in 0..32 {
            let cqe = uring_tests::complete(&mut ring, Connect::new(&client, &target).user_data(i));
            assert_eq!(
                (cqe.user_data(), cqe.res()),
                (i, -libc::ECONNREFUSED),
                "sqpoll {sqpoll}"
            );
        }
    }
}

// ---------------------------------------------------------------- defer-tw-timeout.c

/// A buffer of `len` bytes aligned to 4 KiB, inside `backing` (for
/// `O_DIRECT`).
fn aligned(backing: &mut [u8], len: usize) -> &mut [u8] {
    let off = backing.as_ptr().align_offset(4096);
    &mut backing[off..off + len]
}

/// defer-tw-timeout.c: on a deferred-task-work ring, a submit that waits
/// for two completions with a timeout of 1 s, where only one op is in
/// flight (a direct read of a file; a read of a timerfd that fires 100 ms
/// in, where the C test reads a pipe a thread writes 100 ms in), ends
/// with the timeout and counts the one SQE submitted; the one completion
/// is there, and no other.
#[test]
fn defer_tw_timeout_wait_for_two_ends_with_the_one_completion() {
    use std::os::unix::fs::OpenOptionsExt;
    let _watch = uring_tests::watchdog();
    // Before the ring: the reads name them.
    let mut backing = vec![0u8; 8192];
    let timer = timerfd();
    let mut buf = [0u8; 32];
    let Some(mut ring) = uring_tests::defer_ring(8) else {
        return;
    };
    if !require_features(&ring, Features::EXT_ARG, "waits with a timeout") {
        return;
    }
    // A direct read of a file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("defer-tw-timeout");
    std::fs::write(&path, uring_tests::pattern(128 * 1024, 9)).unwrap();
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(file) => {
            let buf = aligned(&mut backing, 4096);
            push_lent!(ring, Read::new(&file, buf).user_data(1)).unwrap();
            let start = Instant::now();
            let submitted = ring.submit_and_wait_timeout(2, Duration::from_secs(1));
            assert_eq!(submitted.as_ref().ok(), Some(&1), "{submitted:?}");
            assert!(start.elapsed() >= Duration::from_millis(800));
            let got: Vec<Cqe> = ring.completions().collect();
            assert_eq!(pairs(&got), [(1, 4096)]);
        }
        Err(e) => skip(format_args!(
            "no O_DIRECT here ({e}): the file half is left out"
        )),
    }
    // A read of a timerfd that fires 100 ms into the wait.
    push_lent!(ring, Read::new(&timer, &mut buf[..]).user_data(2)).unwrap();
    arm_timerfd(&timer, Duration::from_millis(100));
    let start = Instant::now();
    let submitted = ring.submit_and_wait_timeout(2, Duration::from_secs(1));
    assert_eq!(submitted.as_ref().ok(), Some(&1), "{submitted:?}");
    assert!(start.elapsed() >= Duration::from_millis(800));
    let got: Vec<Cqe> = ring.completions().collect();
    assert_eq!(pairs(&got), [(2, 8)]);
}

// ---------------------------------------------------------------- drop-submit.c

/// drop-submit.c: four NOPs and two reads that fail to prepare (an invalid
/// I/O priority): a `SUBMIT_ALL` ring takes all six; a plain ring stops
/// after the first bad read (5), leaving the second queued, which the next
/// submit takes. Each submitted SQE completes once, the reads with
/// `EINVAL`.
#[test]
fn drop_submit_a_bad_sqe_ends_the_batch_unless_submit_all() {
    let _watch = uring_tests::watchdog();
    let (rx, _tx) = pipe();
    for submit_all in [true, false] {
        // Before the ring: the reads name it.
        let mut buf = [0u8; 32];
        let mut ring = if submit_all {
            match Ring::builder().submit_all().build(8) {
                Ok(r) => r,
                Err(e) => {
                    skip(format_args!("no IORING_SETUP_SUBMIT_ALL: {e}"));
                    continue;
                }
            }
        } else {
            Ring::new(8).unwrap()
        };
        for i in 0..4 {
            ring.push(Nop::new().user_data(i)).unwrap();
        }
        for i in 4..6 {
            push_lent!(
                ring,
                Read::new(&rx, &mut buf[..]).ioprio(u16::MAX).user_data(i)
            )
            .unwrap();
        }
        let submitted = ring.submit().unwrap();
        let mut expected: Vec<(u64, i32)> = (0..4).map(|i| (i, 0)).collect();
        expected.push((4, -libc::EINVAL));
        if submit_all {
            assert_eq!(submitted, 6);
            expected.push((5, -libc::EINVAL));
            assert_eq!(wait_sorted(&mut ring, 6), expected);
        } else {
            assert_eq!(submitted, 5);
            assert_eq!(ring.pending(), 1, "the second bad read stays queued");
            assert_eq!(wait_sorted(&mut ring, 5), expected);
            assert_eq!(ring.submit().unwrap(), 1);
            assert_eq!(wait_sorted(&mut ring, 1), [(5, -libc::EINVAL)]);
        }
        assert_eq!(stray(&mut ring), [], "submit_all {submit_all}");
        drop(ring);
    }
}

// ---------------------------------------------------------------- fd-pass.c

/// Reads 128 bytes at offset 0 of the registered file `slot` and returns
/// the result and the bytes (fd-pass.c `verify_fixed_read`).
fn fixed_read_128(ring: &mut Ring, slot: uring::Fixed<'_>) -> (i32, Vec<u8>) {
    let mut buf = vec![0u8; 128];
    let res = uring_tests::complete(ring, Read::new(slot, &mut buf[..])).res();
    (res, buf)
}

/// One run of fd-pass.c `test`: a file opened into slot `source` of one
/// ring (plain or deferred) is passed to slot `target` of another (a free
/// one the kernel picks, in a range of only slot 1, for `None`).
fn fd_pass_case(path: &std::ffi::CStr, source: u32, target: Option<u32>, defer: bool) {
    use uring::ops::{Close, MsgRingFd, OpenAt};
    use uring::{DirectSlot, Fd, RingSlot};
    const PAT: u8 = 0x9a;
    const USER_DATA: u64 = 0x89;
    let case = format!("source {source} target {target:?} defer {defer}");
    let mut src = if defer {
        match uring_tests::defer_ring(8) {
            Some(r) => r,
            None => return,
        }
    } else {
        Ring::new(8).unwrap()
    };
    let mut dst = Ring::new(8).unwrap();
    let mut stable = src.register_files_sparse(8).unwrap();
    let mut dtable = dst.register_files_sparse(8).unwrap();
    if target.is_none() {
        dst.set_file_alloc_range(&dtable, 1, 1).unwrap();
    }
    let opened = uring_tests::complete(
        &mut src,
        OpenAt::new(Fd::CWD, path)
            .open_flags(libc::O_RDONLY)
            .direct(DirectSlot::at(stable.get_mut(source).unwrap())),
    );
    assert_eq!(opened.res(), 0, "{case}: {opened:?}");
    assert_eq!(
        fixed_read_128(&mut src, stable.get(source).unwrap()),
        (128, vec![PAT; 128]),
        "{case}"
    );
    let dest = match target {
        Some(t) => RingSlot::at(&dst, dtable.get_mut(t).unwrap()).unwrap(),
        None => RingSlot::alloc(&dst),
    };
    let sent = uring_tests::complete(
        &mut src,
        MsgRingFd::new(dest, stable.get(source).unwrap(), USER_DATA),
    );
    // The slot picked (or 0 for a slot named) comes back to both rings.
    let expected_res = if target.is_some() { 0 } else { 1 };
    assert_eq!(sent.res(), expected_res, "{case}: {sent:?}");
    dst.wait_timeout(1, PATIENCE).unwrap();
    let posted: Vec<Cqe> = dst.completions().collect();
    assert_eq!(pairs(&posted), [(USER_DATA, expected_res)], "{case}");
    let target = target.unwrap_or(1);
    assert_eq!(
        fixed_read_128(&mut dst, dtable.get(target).unwrap()),
        (128, vec![PAT; 128]),
        "{case}"
    );
    let closed = uring_tests::complete(&mut src, Close::new(stable.get_mut(source).unwrap()));
    assert_eq!(closed.res(), 0, "{case}");
    assert_eq!(
        fixed_read_128(&mut src, stable.get(source).unwrap()).0,
        -libc::EBADF,
        "{case}: the source slot is empty"
    );
    assert_eq!(
        fixed_read_128(&mut dst, dtable.get(target).unwrap()),
        (128, vec![PAT; 128]),
        "{case}: the passed file outlives the source slot"
    );
}

/// fd-pass.c: a direct descriptor passed with `MSG_RING` from one ring's
/// table to another's (slot 0 to 1, 0 to 2, 1 to 1, 1 to 0, and 1 to a
/// free slot of a range holding only slot 1), from a plain and from a
/// deferred-task-work ring: the target gets the `user_data` (and the slot
/// picked), reads the file's bytes through its slot, and keeps reading
/// them after the source closes its slot (whose reads then fail with
/// `EBADF`).
#[test]
fn fd_pass_a_direct_descriptor_to_another_rings_table() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(1).unwrap();
    if !uring_tests::require_op::<uring::ops::MsgRing>(&ring) {
        return;
    }
    drop(ring);
    let dir = tempfile::tempdir().unwrap();
    let path = pattern_file(dir.path(), "fd-pass", 128, 0x9a);
    for defer in [false, true] {
        for (source, target) in [
            (0, Some(1)),
            (0, Some(2)),
            (1, Some(1)),
            (1, Some(0)),
            (1, None),
        ] {
            fd_pass_case(&path, source, target, defer);
        }
    }
}

// ---------------------------------------------------------------- file-alloc-range-hint.c

/// One run of file-alloc-range-hint.c: a table of 20 slots allocating in
/// `range`; a file installed at slot `install` (and removed again if
/// `remove`); a `FILES_UPDATE` asking for a free slot then gets one inside
/// the range.
fn alloc_range_hint_case(range: (u32, u32), install: u32, remove: bool) {
    use uring::ops::FilesUpdate;
    use uring::{FileUpdates, FilesAt};
    let (rx, tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files_sparse(20).unwrap();
    ring.set_file_alloc_range(&table, range.0, range.1).unwrap();
    assert_eq!(
        ring.update_files(&mut table, install, &[Some(rx.as_fd())])
            .unwrap(),
        1
    );
    if remove {
        assert_eq!(ring.update_files(&mut table, install, &[None]).unwrap(), 1);
    }
    let mut fds = FileUpdates::new(&[Some(tx.as_fd())]);
    let cqe = uring_tests::complete(&mut ring, FilesUpdate::new(&mut fds, FilesAt::ALLOC));
    assert_eq!(cqe.res(), 1, "{cqe:?}");
    let slot = fds.slots()[0];
    assert!(
        (range.0 as i32..(range.0 + range.1) as i32).contains(&slot),
        "slot {slot} picked outside {range:?} (a file was at {install}, removed {remove})"
    );
    ring.unregister_files(table).unwrap();
}

/// file-alloc-range-hint.c `test_hint_below_range`: with allocations in
/// slots 10 to 19, a file installed at slot 2 and removed again does not
/// draw the next allocation below the range.
#[test]
fn file_alloc_range_hint_a_slot_freed_below_the_range_is_not_picked() {
    let _watch = uring_tests::watchdog();
    alloc_range_hint_case((10, 10), 2, true);
}

/// file-alloc-range-hint.c `test_hint_above_range`: with allocations in
/// slots 0 to 9, a file installed at slot 15 does not draw the next
/// allocation above the range.
#[test]
fn file_alloc_range_hint_a_slot_filled_above_the_range_is_not_followed() {
    let _watch = uring_tests::watchdog();
    alloc_range_hint_case((0, 10), 15, false);
}

// ---------------------------------------------------------------- fixed-reuse.c

/// fixed-reuse.c: slot 0 opened on a file of 0xaa bytes, then opened again
/// on a file of 0x55 bytes (replacing it, 0): a read through the slot gets
/// the second file's bytes, and the slot then closes (0). The C test links
/// the second open, the read and the close into one chain; uring refuses
/// that chain at compile time (the open and the close each hold the slot
/// exclusively, so no op may read it alongside), and runs the three one
/// after the other instead.
#[test]
fn fixed_reuse_a_slot_opened_again_reads_the_new_file() {
    use uring::ops::{Close, OpenAt};
    use uring::{DirectSlot, Fd};
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let first = pattern_file(dir.path(), "slot.reuse.1", 4096, 0xaa);
    let second = pattern_file(dir.path(), "slot.reuse.2", 4096, 0x55);
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files_sparse(8).unwrap();
    for path in [&first, &second] {
        let opened = uring_tests::complete(
            &mut ring,
            OpenAt::new(Fd::CWD, path)
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::at(table.get_mut(0).unwrap())),
        );
        assert_eq!(opened.res(), 0, "{path:?}: {opened:?}");
    }
    let mut buf = vec![0u8; 4096];
    let read = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut buf[..]));
    assert_eq!(read.res(), 4096);
    assert!(
        buf.iter().all(|&b| b == 0x55),
        "the first file's bytes were read"
    );
    let closed = uring_tests::complete(&mut ring, Close::new(table.get_mut(0).unwrap()));
    assert_eq!(closed.res(), 0);
}

// ---------------------------------------------------------------- msg-ring-overflow.c

/// msg-ring-overflow.c: eight messages to a ring whose CQ holds 4 (a plain
/// ring, an IOPOLL one, a deferred-task-work one, and both): each send
/// completes with 0, and the target gets all eight (`user_data` 0x1234,
/// `res` 0x10), the four its CQ has no room for once it has.
#[test]
fn msg_ring_overflow_messages_beyond_the_targets_cq_all_arrive() {
    use uring::ops::MsgRing;
    let _watch = uring_tests::watchdog();
    let mut src = Ring::new(8).unwrap();
    if !uring_tests::require_op::<MsgRing>(&src) {
        return;
    }
    let builders = [
        ("plain", Ring::builder()),
        ("iopoll", Ring::builder().iopoll()),
        ("defer", Ring::builder().single_issuer().defer_taskrun()),
        (
            "defer iopoll",
            Ring::builder().single_issuer().defer_taskrun().iopoll(),
        ),
    ];
    for (kind, builder) in builders {
        let mut dst = match builder.cq_entries(4).build(4) {
            Ok(r) => r,
            Err(e) => {
                skip(format_args!("{kind} target ring: {e}"));
                continue;
            }
        };
        assert_eq!(dst.cq_entries(), 4);
        for i in 1..=8 {
            push_lent!(src, MsgRing::new(&dst, 0x10, 0x1234).user_data(i)).unwrap();
        }
        assert_eq!(src.submit().unwrap(), 8, "{kind}");
        assert_eq!(
            reap_sorted(&mut src, 8),
            (1..=8).map(|i| (i, 0)).collect::<Vec<_>>(),
            "{kind}"
        );
        let mut got = Vec::new();
        while got.len() < 8 {
            dst.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{kind}: {e} after {got:?}"));
            got.extend(dst.completions().map(|c| (c.user_data(), c.res())));
        }
        assert_eq!(got, vec![(0x1234, 0x10); 8], "{kind}");
        assert_eq!(stray(&mut dst), [], "{kind}");
    }
}

// ---------------------------------------------------------------- open-close.c

/// open-close.c `test_openat` and `test_close`: an `OPENAT` of an absolute
/// path (the directory descriptor -1 ignored) and one of a path relative to
/// a directory descriptor each give a descriptor; `CLOSE` of it completes
/// with 0 and the descriptor is gone.
#[test]
fn open_close_openat_absolute_and_relative_then_close() {
    use uring::ops::{Close, OpenAt};
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let absolute = pattern_file(dir.path(), "open.close", 4096, 0);
    let dirfd = std::fs::File::open(dir.path()).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let by_path = uring_tests::complete(
        &mut ring,
        OpenAt::new(uring_tests::bad_fd(), &absolute).open_flags(libc::O_RDONLY),
    );
    assert!(by_path.res() >= 0, "{by_path:?}");
    let relative = uring_tests::complete(
        &mut ring,
        OpenAt::new(&dirfd, c"open.close").open_flags(libc::O_RDONLY),
    );
    assert!(relative.res() >= 0, "{relative:?}");
    for fd in [by_path.res(), relative.res()] {
        assert!(uring_tests::fd_is_open(fd));
        // SAFETY: the open just returned this descriptor, owned by no one.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let closed = uring_tests::complete(&mut ring, Close::new(owned));
        assert_eq!(closed.res(), 0, "{closed:?}");
        assert_eq!(
            uring_tests::fd_errno(fd),
            Some(libc::EBADF),
            "{fd} is still open"
        );
    }
}

/// open-close.c `test_close` of the ring's descriptor: the kernel refuses
/// to close an io_uring descriptor through io_uring (`EBADF`), and the
/// descriptor stays open. (uring lends its ring's own descriptor to no op;
/// a duplicate of it names the same ring.)
#[test]
fn open_close_close_of_a_rings_descriptor_is_ebadf() {
    use uring::ops::Close;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: F_DUPFD_CLOEXEC of the ring's open descriptor.
    let dup = unsafe { libc::fcntl(ring.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    assert!(dup >= 0);
    // SAFETY: the duplicate was just made and is owned by no one else.
    let owned = unsafe { OwnedFd::from_raw_fd(dup) };
    let cqe = uring_tests::complete(&mut ring, Close::new(owned));
    assert_eq!(cqe.res(), -libc::EBADF, "{cqe:?}");
    assert!(
        uring_tests::fd_is_open(dup),
        "the ring's descriptor was closed"
    );
    // SAFETY: the kernel refused to close it, so it is still open, and the
    // op that took it has completed: no one else owns it.
    drop(unsafe { OwnedFd::from_raw_fd(dup) });
}

/// open-close.c `test_close_fixed`: `CLOSE` of fixed slot 0 of a pipe's two
/// ends completes with 0, after which a read through the slot fails with
/// `EBADF`; slot 1 closes with 0; slot 0, closed already, with `EBADF`. The
/// C test's other cases cannot be written: a slot past the table (`EINVAL`)
/// is refused by the table's handle before any op exists, a slot without a
/// table (`ENXIO`) cannot be named at all, and a close of a descriptor and
/// a slot at once (`EINVAL`) has no form.
#[test]
fn open_close_close_of_fixed_slots() {
    use uring::ops::Close;
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files(&[rx.as_fd(), tx.as_fd()]).unwrap();
    assert!(table.get_mut(2).is_err(), "a slot past the table");
    let close = |ring: &mut Ring, table: &mut uring::FixedFiles, slot: u32| {
        uring_tests::complete(ring, Close::new(table.get_mut(slot).unwrap())).res()
    };
    assert_eq!(close(&mut ring, &mut table, 0), 0);
    let mut buf = [0u8; 1];
    let read = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut buf[..]));
    assert_eq!(read.res(), -libc::EBADF);
    assert_eq!(close(&mut ring, &mut table, 1), 0);
    assert_eq!(close(&mut ring, &mut table, 0), -libc::EBADF);
    ring.unregister_files(table).unwrap();
}

/// open-close.c `test_open_direct_cloexec`: an `OPENAT` into a fixed slot
/// with `O_CLOEXEC` (which a direct descriptor cannot have) fails with
/// `EINVAL`.
#[test]
fn open_close_direct_open_with_cloexec_is_einval() {
    use uring::ops::OpenAt;
    use uring::{DirectSlot, Fd};
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = pattern_file(dir.path(), "open.close", 4096, 0);
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files_sparse(2).unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        OpenAt::new(Fd::CWD, &path)
            .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
            .direct(DirectSlot::at(table.get_mut(0).unwrap())),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
}

/// open-close.c `test_close_flush`: `CLOSE` of a tracing pipe (a file with
/// a flush method) completes with 0.
#[test]
fn open_close_close_of_a_file_with_a_flush_method() {
    use uring::ops::Close;
    let _watch = uring_tests::watchdog();
    let paths = [
        "/sys/kernel/debug/tracing/per_cpu/cpu0/trace_pipe_raw",
        "/sys/kernel/tracing/per_cpu/cpu0/trace_pipe_raw",
    ];
    let Some(file) = paths.iter().find_map(|p| std::fs::File::open(p).ok()) else {
        skip(format_args!("cannot open a tracing pipe ({paths:?})"));
        return;
    };
    let fd = file.as_raw_fd();
    let mut ring = Ring::new(8).unwrap();
    let cqe = uring_tests::complete(&mut ring, Close::new(OwnedFd::from(file)));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(uring_tests::fd_errno(fd), Some(libc::EBADF));
}

// ---------------------------------------------------------------- open-direct-link.c

/// open-direct-link.c, the drained runs: an `OPENAT` into slot `i`, a read
/// through it flagged `IO_DRAIN` and a `CLOSE` of it flagged `IO_DRAIN`
/// (`ASYNC` too, or not), submitted at once, complete in order with 0,
/// 4096 and 0. The C test's linked runs (with and without
/// `CQE_SKIP_SUCCESS`) chain the three: uring's typestate refuses a chain
/// in which one slot is opened into, read and closed (the open and the
/// close each hold it exclusively).
#[test]
fn open_direct_link_drained_open_read_close_of_one_slot() {
    use uring::ops::{Close, OpenAt};
    use uring::{DirectSlot, Fd};
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = pattern_file(dir.path(), "link.direct", 4096, 0x3c);
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files_sparse(8).unwrap();
    for (i, async_) in [(0u32, false), (1, true)] {
        let extra = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let mut buf = vec![0u8; 4096];
        // Pushed one by one, each op's hold on the slot ends with its push;
        // the drains order them: the read starts once the open has filled
        // the slot, the close once the read has completed.
        push_lent!(
            ring,
            OpenAt::new(Fd::CWD, &path)
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::at(table.get_mut(i).unwrap()))
                .flags(extra)
                .user_data(1)
        )
        .unwrap();
        push_lent!(
            ring,
            Read::new(table.get(i).unwrap(), &mut buf[..])
                .flags(SqeFlags::IO_DRAIN | extra)
                .user_data(2)
        )
        .unwrap();
        push_lent!(
            ring,
            Close::new(table.get_mut(i).unwrap())
                .flags(SqeFlags::IO_DRAIN | extra)
                .user_data(3)
        )
        .unwrap();
        let got = pairs(&submit_and_reap(&mut ring, 3));
        assert_eq!(got, [(1, 0), (2, 4096), (3, 0)], "async {async_}");
        assert!(buf.iter().all(|&b| b == 0x3c));
    }
}

// ---------------------------------------------------------------- open-direct-pick.c

/// open-direct-pick.c: 800 `OPENAT`s into free slots of a sparse table of
/// 800 each get a slot of their own; after 100 of them are closed, 100
/// more opens get exactly those 100 slots, and one more fails with
/// `ENFILE`.
#[test]
fn open_direct_pick_fills_the_table_then_enfile() {
    use uring::ops::{Close, OpenAt};
    use uring::{DirectSlot, Fd};
    const FDS: u32 = 800;
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = pattern_file(dir.path(), "open.direct.pick", 4096, 0);
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files_sparse(FDS).unwrap();
    let opens = |ring: &mut Ring, n: u32| -> Vec<i32> {
        let mut results = Vec::new();
        let mut left = n;
        while left > 0 {
            let batch = left.min(8);
            for _ in 0..batch {
                push_lent!(
                    ring,
                    OpenAt::new(Fd::CWD, &path)
                        .open_flags(libc::O_RDONLY)
                        .direct(DirectSlot::ALLOC)
                )
                .unwrap();
            }
            results.extend(submit_and_reap(ring, batch as usize).iter().map(Cqe::res));
            left -= batch;
        }
        results
    };
    let mut slots = opens(&mut ring, FDS);
    slots.sort_unstable();
    assert_eq!(slots, (0..FDS as i32).collect::<Vec<_>>());
    let mut rng = uring_tests::Rng(0x5eed_0fd1_ec70);
    let mut closed = Vec::new();
    while closed.len() < 100 {
        let slot = rng.below(u64::from(FDS)) as u32;
        if closed.contains(&(slot as i32)) {
            continue;
        }
        let cqe = uring_tests::complete(&mut ring, Close::new(table.get_mut(slot).unwrap()));
        assert_eq!(cqe.res(), 0, "slot {slot}");
        closed.push(slot as i32);
    }
    closed.sort_unstable();
    let mut again = opens(&mut ring, 100);
    again.sort_unstable();
    assert_eq!(again, closed, "the reopened files took other slots");
    assert_eq!(opens(&mut ring, 1), [-libc::ENFILE]);
    ring.unregister_files(table).unwrap();
}

// ---------------------------------------------------------------- poll-link.c

/// One run of poll-link.c `test_poll_timeout`: a poll of a listening
/// socket bounded by a link timeout of `timeout`, with a connection made
/// to it or not; the two completions, sorted.
fn poll_link_case(connect: bool, timeout: Duration) -> Vec<(u64, i32)> {
    use uring::ops::LinkTimeout;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push(
            PollAdd::new(
                &listener,
                PollEvents::IN | PollEvents::HUP | PollEvents::ERR,
            )
            .user_data(1)
            .link_timeout(LinkTimeout::new(timeout).user_data(2)),
        )
        .unwrap();
        assert_eq!(s.submit().unwrap(), 2);
        let client = connect.then(|| TcpStream::connect(addr).unwrap());
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        drop(client);
        got.sort_unstable();
        got
    })
}

/// poll-link.c: a poll of a listening socket that no one connects to,
/// bounded by a 200 ms link timeout, is cancelled (`ECANCELED`) when the
/// timeout fires (`ETIME`); with a connection, the poll completes with
/// `POLLIN` and the 1 s timeout is cancelled.
#[test]
fn poll_link_a_poll_bounded_by_a_link_timeout() {
    let _watch = uring_tests::watchdog();
    assert_eq!(
        poll_link_case(false, Duration::from_millis(200)),
        [(1, -libc::ECANCELED), (2, -libc::ETIME)]
    );
    let got = poll_link_case(true, Duration::from_secs(1));
    assert_eq!(got[0].0, 1);
    assert_ne!(got[0].1 & libc::POLLIN as i32, 0, "{got:?}");
    assert_eq!(got[1], (2, -libc::ECANCELED), "{got:?}");
}

// ---------------------------------------------------------------- poll-many.c

/// One run of poll-many.c `do_test`: a poll armed on each pipe, then
/// rounds in which `batch` pipes picked at random get a byte: exactly those
/// polls complete (with `POLLIN`), and each is read and armed again.
fn poll_many_run(ring: &mut Ring, pipes: &[(OwnedFd, OwnedFd)], batch: usize, rounds: usize) {
    let mut triggered = vec![false; pipes.len()];
    let mut armed = 0;
    while armed < pipes.len() {
        while armed < pipes.len() && ring.space_left() > 0 {
            let (rx, _) = &pipes[armed];
            push_lent!(
                ring,
                PollAdd::new(rx, PollEvents::IN).user_data(armed as u64)
            )
            .unwrap();
            armed += 1;
        }
        ring.submit().unwrap();
    }
    let mut rng = uring_tests::Rng(0x9011_3a4e_5eed);
    for round in 0..rounds {
        for _ in 0..batch {
            let off = loop {
                let off = rng.below(pipes.len() as u64) as usize;
                if !triggered[off] {
                    break off;
                }
            };
            triggered[off] = true;
            write_to(&pipes[off].1, &[89]);
        }
        let mut reaped = 0;
        while reaped < batch {
            ring.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("round {round}: {e} after {reaped}"));
            let cqes: Vec<Cqe> = ring.completions().collect();
            for cqe in cqes {
                let off = cqe.user_data() as usize;
                assert!(
                    triggered[off],
                    "round {round}: an untouched pipe's poll: {cqe:?}"
                );
                assert_ne!(cqe.res() & libc::POLLIN as i32, 0, "{cqe:?}");
                triggered[off] = false;
                let mut byte = [0u8; 1];
                let n = std::fs::File::from(pipes[off].0.try_clone().unwrap())
                    .read(&mut byte)
                    .unwrap();
                assert_eq!(n, 1);
                push_lent!(
                    ring,
                    PollAdd::new(&pipes[off].0, PollEvents::IN).user_data(off as u64)
                )
                .unwrap();
                reaped += 1;
            }
        }
        assert_eq!(
            reaped, batch,
            "round {round}: more polls completed than pipes written"
        );
        assert_eq!(ring.submit().unwrap() as usize, batch);
    }
}

/// poll-many.c, scaled down (1000 pipes, 20 rounds of 100, where the C
/// test has 5000, 1000 and 500): on a ring of 512 SQEs and 4096 CQEs,
/// plain and with deferred task work, only the polls of the pipes written
/// to complete, each once per round.
#[test]
fn poll_many_only_the_written_pipes_polls_complete() {
    let _watch = uring_tests::watchdog();
    // Declared before the rings: the polls name them until the rings go.
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..1000).map(|_| pipe()).collect();
    for defer in [false, true] {
        let mut builder = Ring::builder().cq_entries(4096);
        if defer {
            builder = builder.single_issuer().defer_taskrun();
        }
        let mut ring = match builder.build(512) {
            Ok(r) => r,
            Err(e) if defer => {
                skip(format_args!("no DEFER_TASKRUN: {e}"));
                return;
            }
            Err(e) => panic!("{e}"),
        };
        poll_many_run(&mut ring, &pipes, 100, 20);
        drop(ring);
    }
}

// ---------------------------------------------------------------- poll-mshot-overflow.c

/// poll-mshot-overflow.c `test`: on a ring with a CQ of 2, a multishot
/// poll fires while two NOP completions fill the CQ; its completion goes
/// to the overflow list and still arrives, and a removal ends the poll. No
/// completion of the poll comes after one without `F_MORE`. Plain, and
/// with deferred task work.
#[test]
fn poll_mshot_overflow_the_overflowed_event_still_arrives() {
    use uring::PollFlags;
    use uring::ops::PollRemove;
    let _watch = uring_tests::watchdog();
    for defer in [false, true] {
        let mut builder = Ring::builder().cq_entries(2).single_issuer();
        if defer {
            builder = builder.defer_taskrun();
        }
        let (rx, tx) = pipe();
        let mut ring = match builder.build(2) {
            Ok(r) => r,
            Err(e) => {
                skip(format_args!("ring setup (defer {defer}): {e}"));
                return;
            }
        };
        push_lent!(
            ring,
            PollAdd::new(&rx, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(1)
        )
        .unwrap();
        assert_eq!(ring.ready(), 0);
        for _ in 0..2 {
            ring.push(Nop::new().user_data(2)).unwrap();
            ring.submit().unwrap();
        }
        write_to(&tx, b"foo");
        for _ in 0..2 {
            let cqe = ring.peek().expect("a NOP's completion");
            assert_eq!(cqe.user_data(), 2, "defer {defer}: {cqe:?}");
            ring.advance(1);
        }
        ring.get_events().unwrap();
        ring.push(PollRemove::new(1).user_data(3)).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        let mut polls = Vec::new();
        let mut removal = None;
        while removal.is_none() || polls.last().is_none_or(|c: &Cqe| c.has_more()) {
            ring.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("defer {defer}: {e} after {polls:?}"));
            for cqe in ring.completions() {
                match cqe.user_data() {
                    1 => {
                        assert!(
                            polls.last().is_none_or(|c: &Cqe| c.has_more()),
                            "defer {defer}: a poll completion after its last: {cqe:?}"
                        );
                        polls.push(cqe);
                    }
                    3 => removal = Some(cqe.res()),
                    _ => panic!("defer {defer}: {cqe:?}"),
                }
            }
        }
        assert!(
            !polls.is_empty(),
            "defer {defer}: the poll's event was lost"
        );
        assert_ne!(polls[0].res() & libc::POLLIN as i32, 0, "{:?}", polls[0]);
        let removal = removal.unwrap();
        assert!(
            removal == 0 || removal == -libc::ENOENT,
            "defer {defer}: removal {removal}"
        );
        assert_eq!(stray(&mut ring), [], "defer {defer}");
    }
}

/// poll-mshot-overflow.c `test_downgrade`: a multishot poll on a ring with
/// a CQ of 2, and eight events, none reaped meanwhile: the poll posts the
/// first events flagged `F_MORE` and, once its completion finds the CQ
/// full, one last completion without it (it ends): between 3 and 7
/// completions, all with events.
#[test]
fn poll_mshot_overflow_a_full_cq_ends_the_multishot_poll() {
    use uring::PollFlags;
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::builder().cq_entries(2).build(2).unwrap();
    push_lent!(
        ring,
        PollAdd::new(&rx, PollEvents::IN)
            .poll_flags(PollFlags::MULTI)
            .user_data(1)
    )
    .unwrap();
    ring.submit().unwrap();
    let mut reader = std::fs::File::from(rx.try_clone().unwrap());
    for _ in 0..8 {
        write_to(&tx, &[0; 4]);
        let mut back = [0u8; 4];
        reader.read_exact(&mut back).unwrap();
    }
    let mut cqes = Vec::new();
    while let Some(cqe) = ring.peek() {
        cqes.push(cqe);
        ring.advance(1);
        assert!(cqes.len() <= 8, "{cqes:?}");
    }
    assert!(
        (3..8).contains(&cqes.len()),
        "{} completions: {cqes:?}",
        cqes.len()
    );
    let (last, rest) = cqes.split_last().unwrap();
    assert!(!last.has_more(), "the last one keeps F_MORE: {cqes:?}");
    for cqe in rest {
        assert!(cqe.has_more() && cqe.res() >= 0, "{cqe:?}");
    }
    assert_eq!(stray(&mut ring), [], "the poll ended");
}

// ---------------------------------------------------------------- poll-v-poll.c

/// Polls `fd` for `events` with the ring and with `poll(2)` on another
/// thread at once, runs `trigger` 100 ms later, and returns both results
/// (the ring's masked to the low six bits, as poll-v-poll.c does).
fn ring_poll_and_sys_poll(
    ring: &mut Ring,
    fd: BorrowedFd<'_>,
    events: PollEvents,
    trigger: impl FnOnce(),
) -> (i32, i32) {
    let raw = fd.as_raw_fd();
    let bits = events.bits() as i16;
    ring.scope(|s| {
        s.push(PollAdd::new(fd, events).user_data(1)).unwrap();
        s.submit().unwrap();
        let thread = std::thread::spawn(move || {
            let mut p = libc::pollfd {
                fd: raw,
                events: bits,
                revents: 0,
            };
            // SAFETY: one valid pollfd; the descriptor outlives the thread
            // (it is joined before the scope returns).
            let n = unsafe { libc::poll(&mut p, 1, 10_000) };
            assert_eq!(n, 1, "poll(2) timed out");
            i32::from(p.revents)
        });
        std::thread::sleep(Duration::from_millis(100));
        trigger();
        s.wait_timeout(1, PATIENCE).unwrap();
        let res = s.completions().next().unwrap().res();
        (res & 0x3f, thread.join().unwrap())
    })
}

/// poll-v-poll.c: a ring's poll and `poll(2)` report the same events for
/// a pipe's read end (once written), its write end, an epoll instance
/// watching a pipe (added with `epoll_ctl(2)` or with `EPOLL_CTL`, once
/// the pipe is written), and a regular file polled for `POLLIN`,
/// `POLLOUT` and both.
#[test]
fn poll_v_poll_the_ring_reports_what_poll_reports() {
    use uring::ops::EpollCtl;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    let (rx, tx) = pipe();
    let (res, revents) = ring_poll_and_sys_poll(&mut ring, rx.as_fd(), PollEvents::IN, || {
        write_to(&tx, &[0x89])
    });
    assert_eq!((res, revents), (libc::POLLIN as i32, libc::POLLIN as i32));
    let (rx2, tx2) = pipe();
    let (res, revents) = ring_poll_and_sys_poll(&mut ring, tx2.as_fd(), PollEvents::OUT, || {
        write_to(&tx2, &[0x89])
    });
    assert_eq!(res, revents);
    assert_ne!(res & libc::POLLOUT as i32, 0);
    drop(rx2);
    for via_ring in [false, true] {
        // SAFETY: epoll_create1 takes a flag and returns a new descriptor.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(raw >= 0);
        // SAFETY: just made, owned by no one else.
        let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
        let (prx, ptx) = pipe();
        let event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: prx.as_raw_fd() as u64,
        };
        if via_ring {
            let cqe = uring_tests::complete(
                &mut ring,
                EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, &prx, &event),
            );
            assert_eq!(cqe.res(), 0, "{cqe:?}");
        } else {
            let mut event = event;
            // SAFETY: both descriptors are open, the event outlives the call.
            let rc =
                unsafe { libc::epoll_ctl(raw, libc::EPOLL_CTL_ADD, prx.as_raw_fd(), &mut event) };
            assert_eq!(rc, 0);
        }
        let (res, revents) =
            ring_poll_and_sys_poll(&mut ring, epoll.as_fd(), PollEvents::IN, || {
                write_to(&ptx, &[0x89])
            });
        assert_eq!(
            (res, revents),
            (libc::POLLIN as i32, libc::POLLIN as i32),
            "epoll_ctl through the ring {via_ring}"
        );
    }
    let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    for events in [
        PollEvents::IN,
        PollEvents::OUT,
        PollEvents::IN | PollEvents::OUT,
    ] {
        let (res, revents) = ring_poll_and_sys_poll(&mut ring, file.as_fd(), events, || {});
        assert_eq!(res, revents, "{events:?}");
        assert_eq!(res, events.bits() as i32, "a regular file is always ready");
    }
}

// ---------------------------------------------------------------- read-inc-file.c

/// read-inc-file.c: four reads of 80 bytes of a regular file (80 'a's, 80
/// 'b's, ...), each selecting from an incremental buffer ring of one
/// 64 KiB buffer: each completes with 80 and the same buffer, and their
/// bytes follow one another in it.
#[test]
fn read_inc_file_reads_fill_one_buffer_one_after_the_other() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buf-inc-file");
    let contents: Vec<u8> = (0..8u8).flat_map(|i| [b'a' + i; 80]).collect();
    std::fs::write(&path, &contents).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut ring = Ring::new(64).unwrap();
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 4, 1, 65536) else {
        return;
    };
    ring.scope(|s| {
        let mut bid = None;
        for i in 0..4u8 {
            s.push(
                Read::new(&file, pool.group().select(80))
                    .offset(u64::from(i) * 80)
                    .user_data(u64::from(i)),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 80, "read {i}: {cqe:?}");
            let this = cqe.buffer_id().expect("a buffer");
            assert_eq!(
                *bid.get_or_insert(this),
                this,
                "read {i} took another buffer"
            );
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf.bid(), this);
            assert_eq!(buf.offset(), usize::from(i) * 80, "read {i}");
            assert_eq!(&buf[..], &[b'a' + i; 80][..], "read {i}");
        }
    });
}

// ---------------------------------------------------------------- read-mshot-empty.c

/// read-mshot-empty.c: a multishot read of a pipe selecting from four
/// 32-byte buffers; two 32-byte blocks are written, then nothing for
/// 100 ms (the pipe runs empty, and the read stays armed), then two more:
/// four completions, each of 32 bytes with a buffer and `F_MORE`, the
/// blocks in order. (The C test writes from a thread; here between waits.)
#[test]
fn read_mshot_empty_the_multishot_read_survives_an_empty_pipe() {
    use uring::ops::ReadMultishot;
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<ReadMultishot>(&ring) {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 17, 4, 32) else {
        return;
    };
    let got = ring.scope(|s| {
        s.push(ReadMultishot::new(&rx, pool.group()).user_data(1))
            .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        for round in 0..2 {
            write_to(&tx, &[0x11; 32]);
            write_to(&tx, &[0x22; 32]);
            while got.len() < 2 * (round + 1) {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    assert_eq!(cqe.res(), 32, "{cqe:?}");
                    assert!(cqe.buffer_id().is_some() && cqe.has_more(), "{cqe:?}");
                    got.push(pool.claim(&mut cqe).unwrap().to_vec());
                }
            }
            if round == 0 {
                assert_eq!(stray_in_scope(s), [], "a completion from an empty pipe");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        got
    });
    assert_eq!(got, [[0x11; 32], [0x22; 32], [0x11; 32], [0x22; 32]]);
}

// ---------------------------------------------------------------- recv-bundle-buf-len.c

/// recv-bundle-buf-len.c `test_eagain_no_corrupt`: a bundle receive of one
/// byte, `MSG_DONTWAIT`, on an empty datagram socket fails with `EAGAIN`
/// and takes nothing from the group: a read of 4096 bytes of a pipe
/// through the same group then gets buffer 0 whole (4096 bytes).
#[test]
fn recv_bundle_buf_len_a_failed_bundle_leaves_the_buffer_whole() {
    use std::os::unix::net::UnixDatagram;
    use uring::ops::Recv;
    use uring::{MsgFlags, RecvFlags};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 1, 2, 4096) else {
        return;
    };
    let (sock, _peer) = UnixDatagram::pair().unwrap();
    let (rx, tx) = pipe();
    write_to(&tx, &[0x5a; 4096]);
    ring.scope(|s| {
        s.push(
            Recv::new(&sock, pool.group().select(1))
                .recv_flags(RecvFlags::BUNDLE)
                .msg_flags(MsgFlags::DONTWAIT)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::EAGAIN), "{cqe:?}");
        assert!(cqe.buffer_id().is_none(), "{cqe:?}");
        s.push(Read::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (2, 4096), "{cqe:?}");
        assert_eq!(cqe.buffer_id(), Some(0));
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(buf.len(), 4096);
        assert!(buf.iter().all(|&b| b == 0x5a));
    });
}

/// recv-bundle-buf-len.c `test_success_trim`: with 64 bytes queued on a
/// stream socket, a bundle receive of 32 bytes (`MSG_DONTWAIT`) into
/// 4096-byte buffers completes with 32 in buffer 0, the first 32 bytes
/// sent.
#[test]
fn recv_bundle_buf_len_a_short_bundle_receives_only_its_length() {
    use std::os::unix::net::UnixStream;
    use uring::ops::Recv;
    use uring::{MsgFlags, RecvFlags};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 1, 2, 4096) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent: Vec<u8> = (0..64).map(|i| b'A' + (i % 26) as u8).collect();
    tx.write_all(&sent).unwrap();
    ring.scope(|s| {
        s.push(
            Recv::new(&rx, pool.group().select(32))
                .recv_flags(RecvFlags::BUNDLE)
                .msg_flags(MsgFlags::DONTWAIT)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 32, "{cqe:?}");
        assert_eq!(cqe.buffer_id(), Some(0), "{cqe:?}");
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        assert_eq!(bufs.len(), 1);
        assert_eq!(&bufs[0][..], &sent[..32]);
    });
}

// ---------------------------------------------------------------- recv-mshot-fair.c

/// recv-mshot-fair.c, the runs with `optlen` (`Recv::multishot_limit`,
/// 6.17): a multishot receive of at most 1024 bytes per completion, limited
/// to 4096 in all, on a connection with 8 KiB queued ends (a completion
/// without `IORING_CQE_F_MORE`) once it has taken 4096 bytes, not before
/// and not at the end of the data; armed again, it takes the rest. Without
/// a limit, one receive takes all 8 KiB and stays armed.
#[test]
fn recv_mshot_fair_a_total_limit_ends_the_multishot_receive() {
    use uring::RecvFlags;
    use uring::ops::Recv;
    const TOTAL: usize = 8192;
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 17, "a multishot receive's total limit") {
        return;
    }
    for limit in [4096u32, 0] {
        let (mut client, server) = tcp_pair();
        client.write_all(&[7u8; TOTAL]).unwrap();
        // Room for every 32-byte completion: a multishot receive also ends
        // when the CQ is full.
        let mut ring = Ring::builder().cq_entries(1024).build(64).unwrap();
        let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 8, 512, 32) else {
            return;
        };
        // Bytes taken by each arm of the receive, and whether it ended.
        let arms: Vec<(usize, bool)> = ring.scope(|s| {
            let mut arms = Vec::new();
            let mut taken = 0;
            let mut arm = 0u64;
            let recv = |arm: u64| {
                Recv::new(&server, pool.group().select(1024))
                    .recv_flags(RecvFlags::MULTISHOT)
                    .multishot_limit(limit)
                    .user_data(arm)
            };
            s.push(recv(arm)).unwrap();
            s.submit().unwrap();
            let mut total = 0;
            while total < TOTAL {
                s.wait_timeout(1, PATIENCE)
                    .unwrap_or_else(|e| panic!("limit {limit}: {e} after {total}"));
                let mut ended = false;
                for mut cqe in s.completions() {
                    assert_eq!(cqe.user_data(), arm);
                    assert!(cqe.res() >= 0, "limit {limit}: {cqe:?}");
                    assert!(cqe.res() <= 1024, "limit {limit}: {cqe:?}");
                    if cqe.res() > 0 {
                        let buf = pool.claim(&mut cqe).unwrap();
                        assert!(buf.iter().all(|&b| b == 7));
                        taken += buf.len();
                        total += buf.len();
                    }
                    if !cqe.has_more() {
                        ended = true;
                    }
                }
                if ended {
                    arms.push((taken, true));
                    taken = 0;
                    arm += 1;
                    if total < TOTAL {
                        s.push(recv(arm)).unwrap();
                        s.submit().unwrap();
                    }
                }
            }
            if taken > 0 {
                arms.push((taken, false));
                // Still armed: end it, so that the scope can return.
                drop(client.shutdown(std::net::Shutdown::Both));
                loop {
                    s.wait_timeout(1, PATIENCE).unwrap();
                    let done = s.completions().any(|c| !c.has_more());
                    if done {
                        break;
                    }
                }
            }
            arms
        });
        if limit == 0 {
            assert_eq!(arms, [(TOTAL, false)], "no limit: one arm takes all");
        } else {
            assert_eq!(arms.len(), 2, "limit {limit}: {arms:?}");
            assert!(arms[0].1, "the limited receive did not end: {arms:?}");
            assert!(
                arms[0].0 >= 4096 && arms[0].0 < TOTAL,
                "the limited receive took {arms:?}"
            );
            assert_eq!(arms[0].0 + arms[1].0, TOTAL);
        }
    }
}

/// One run of recv-mshot-fair.c `test`: four connections with 8 KiB each
/// queued, read by multishot receives (bundles or not) capped at 1024
/// bytes per completion, from 2048 buffers of 32 bytes; every byte
/// arrives, no completion carries more than 1024 bytes, and no connection
/// is served more than 1024 bytes (and a buffer) in a row while the others
/// wait.
fn recv_mshot_fair_run(ring: &mut Ring, bundle: bool, case: &str) {
    use uring::RecvFlags;
    use uring::ops::Recv;
    const PER_ITER: u32 = 1024;
    const TOTAL: usize = 2 * 4096;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut senders = Vec::new();
    let mut conns = Vec::new();
    for i in 0..4u8 {
        let mut client = TcpStream::connect(addr).unwrap();
        conns.push(listener.accept().unwrap().0);
        client.write_all(&[i; TOTAL]).unwrap();
        senders.push(client);
    }
    let Some(pool) = uring_tests::plain_buf_ring(ring, 8, 2048, 32) else {
        return;
    };
    let flags = if bundle {
        RecvFlags::MULTISHOT | RecvFlags::BUNDLE
    } else {
        RecvFlags::MULTISHOT
    };
    let (received, unfair) = ring.scope(|s| {
        let recv = |i: usize| {
            Recv::new(&conns[i], pool.group().select(PER_ITER))
                .recv_flags(flags)
                .user_data(i as u64)
        };
        for i in 0..4 {
            s.push(recv(i)).unwrap();
        }
        s.submit().unwrap();
        let mut received = [0usize; 4];
        let mut last = None;
        let mut streak = 0usize;
        let mut unfair = 0;
        while received.iter().any(|&n| n < TOTAL) {
            s.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{case}: {e} after {received:?}"));
            let mut rearm = Vec::new();
            for mut cqe in s.completions() {
                let i = cqe.user_data() as usize;
                assert!(cqe.res() >= 0, "{case}: {cqe:?}");
                let n = cqe.res() as usize;
                assert!(
                    n <= PER_ITER as usize,
                    "{case}: {n} bytes in one completion"
                );
                if last != Some(i) {
                    if streak > PER_ITER as usize + 32 {
                        unfair += 1;
                    }
                    last = Some(i);
                    streak = 0;
                }
                streak += n;
                if n > 0 {
                    for buf in pool.claim_bundle(&mut cqe).unwrap() {
                        assert!(buf.iter().all(|&b| b == i as u8), "{case}");
                        received[i] += buf.len();
                    }
                }
                if !cqe.has_more() && received[i] < TOTAL {
                    rearm.push(i);
                }
            }
            for i in rearm {
                s.push(recv(i)).unwrap();
            }
            s.submit().unwrap();
        }
        (received, unfair)
    });
    assert_eq!(received, [TOTAL; 4], "{case}");
    assert_eq!(unfair, 0, "{case}: a connection was served past its share");
    drop(senders);
}

/// recv-mshot-fair.c: multishot receives on four connections, capped per
/// completion, on a deferred-task-work and a cooperative ring, bundles or
/// not: every byte arrives and the connections are served in turn. (The
/// C test's runs that cap each receive's total, `optlen`, are
/// `recv_mshot_fair_a_total_limit_ends_the_multishot_receive`.)
#[test]
fn recv_mshot_fair_capped_multishot_receives_take_turns() {
    let _watch = uring_tests::watchdog();
    for defer in [true, false] {
        for bundle in [true, false] {
            let builder = if defer {
                Ring::builder().single_issuer().defer_taskrun()
            } else {
                Ring::builder().coop_taskrun()
            };
            let mut ring = match builder.cq_entries(4096).build(16) {
                Ok(r) => r,
                Err(e) => {
                    skip(format_args!("ring setup: {e}"));
                    return;
                }
            };
            if bundle && !require_features(&ring, Features::RECVSEND_BUNDLE, "bundles") {
                continue;
            }
            recv_mshot_fair_run(&mut ring, bundle, &format!("defer {defer} bundle {bundle}"));
        }
    }
}

// ---------------------------------------------------------------- recv-msgall-stream.c

/// Pushes `op` (a receive of 512 bytes flagged `MSG_WAITALL`), sends the
/// first half of `data` from `client`, checks that the receive waits for
/// the rest, sends the second half, and returns the one completion.
fn msgall_receive<'r, S>(
    ring: &'r mut Ring,
    op: S,
    mut client: TcpStream,
    data: &[u8],
) -> (u64, i32)
where
    S: uring::Submission + uring::Scoped + 'r,
{
    ring.scope(|s| {
        s.push(op).unwrap();
        s.submit().unwrap();
        let (first, second) = data.split_at(256);
        client.write_all(first).unwrap();
        assert_eq!(stray_in_scope(s), [], "the receive did not wait for all");
        client.write_all(second).unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!(stray_in_scope(s), [], "a second completion");
        (cqe.user_data(), cqe.res())
    })
}

/// The completions a scope gets within a short while (none are expected).
fn stray_in_scope(s: &mut uring::Scope<'_, '_>) -> Vec<(u64, i32)> {
    let _ = s.wait_timeout(1, Duration::from_millis(30));
    s.completions().map(|c| (c.user_data(), c.res())).collect()
}

/// recv-msgall-stream.c: a receive flagged `MSG_WAITALL` of 512 bytes on a
/// TCP connection whose peer sends two halves, some time apart, completes
/// once, with all 512 bytes (the integers 0 to 127), through `Recv` and
/// through `RecvMsg`.
#[test]
fn recv_msgall_stream_waits_for_every_byte() {
    use uring::ops::{Recv, RecvMsg};
    use uring::{MsgFlags, MsgHdrMut};
    let _watch = uring_tests::watchdog();
    let sent: Vec<u8> = (0..128i32).flat_map(|i| i.to_ne_bytes()).collect();
    for use_recvmsg in [false, true] {
        let (client, server) = tcp_pair();
        let mut ring = Ring::new(1).unwrap();
        let mut buf = vec![0u8; 512];
        let res = if use_recvmsg {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let mut msg = MsgHdrMut::new(&mut iov);
            let op = RecvMsg::new(&server, &mut msg)
                .msg_flags(MsgFlags::WAITALL)
                .user_data(2);
            msgall_receive(&mut ring, op, client, &sent)
        } else {
            let op = Recv::new(&server, &mut buf[..])
                .msg_flags(MsgFlags::WAITALL)
                .user_data(2);
            msgall_receive(&mut ring, op, client, &sent)
        };
        assert_eq!(res, (2, 512), "recvmsg {use_recvmsg}");
        assert_eq!(buf, sent, "recvmsg {use_recvmsg}");
    }
}

// ---------------------------------------------------------------- regbuf-clone.c

/// A fixed read of 32 bytes (0xbb) from a pipe into `into`, which lies in
/// registered buffer `index` of `ring` (regbuf-clone.c `use_buf`): the
/// result.
fn use_buf(ring: &mut Ring, into: &mut [u8], index: uring::FixedBuf) -> i32 {
    use uring::ops::ReadFixed;
    let (rx, tx) = pipe();
    write_to(&tx, &[0xbb; 32]);
    uring_tests::complete(ring, ReadFixed::new(&rx, &mut into[..32], index)).res()
}

/// regbuf-clone.c `test` (with and without registered ring descriptors)
/// and `test_dummy`: 64 buffers registered with one ring are cloned into
/// another, whose fixed reads then land in the same memory; a second
/// clone into a ring that has buffers fails with `EBUSY`; once the clone
/// is unregistered the source still works; the same the other way round;
/// a table holding one empty slot clones too. (A clone from a ring with
/// no buffers, `ENXIO` in the C test, and fixed ops on a ring without a
/// table cannot be written: both need a table handle that does not exist.)
#[test]
fn regbuf_clone_buffers_shared_between_two_rings() {
    let _watch = uring_tests::watchdog();
    // Before the rings: the kernel uses this memory until they are gone.
    let mut vecs: Vec<Vec<u8>> = (0..64).map(|_| vec![0u8; 8192]).collect();
    for (reg_src, reg_dst) in [(false, false), (false, true), (true, false), (true, true)] {
        let case = format!("registered ring fds: src {reg_src} dst {reg_dst}");
        let mut src = Ring::new(1).unwrap();
        let mut dst = Ring::new(1).unwrap();
        if reg_src {
            src.register_ring_fd().unwrap();
        }
        if reg_dst {
            dst.register_ring_fd().unwrap();
        }
        let iovs: Vec<IoSliceMut<'_>> = vecs.iter_mut().map(|v| IoSliceMut::new(v)).collect();
        // SAFETY: `vecs` outlives both rings (declared before them), and
        // only the fixed reads below touch it while it is registered.
        let table = unsafe { src.register_buffers(&iovs) }.unwrap();
        drop(iovs);
        assert_eq!(
            use_buf(&mut src, &mut vecs[0], table.get(0).unwrap()),
            32,
            "{case}"
        );
        assert_eq!(vecs[0][..32], [0xbb; 32]);
        // SAFETY: as above, for the clone.
        let cloned = match unsafe { dst.clone_buffers(&src, &table, 0, 64) } {
            Ok(t) => t,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                skip(format_args!("no IORING_REGISTER_CLONE_BUFFERS: {e}"));
                return;
            }
            Err(e) => panic!("{case}: {e}"),
        };
        assert_eq!(cloned.len(), 64);
        vecs[32].fill(0);
        assert_eq!(
            use_buf(&mut dst, &mut vecs[32], cloned.get(32).unwrap()),
            32,
            "{case}"
        );
        assert_eq!(
            vecs[32][..32],
            [0xbb; 32],
            "{case}: the clone reads into other memory"
        );
        // SAFETY: refused (asserted), so the kernel keeps nothing new.
        let again = unsafe { dst.clone_buffers(&src, &table, 0, 64) };
        assert_eq!(
            again.err().and_then(|e| e.raw_os_error()),
            Some(libc::EBUSY),
            "{case}"
        );
        dst.unregister_buffers(cloned).unwrap();
        vecs[32].fill(0);
        assert_eq!(
            use_buf(&mut src, &mut vecs[32], table.get(32).unwrap()),
            32,
            "{case}"
        );
        assert_eq!(vecs[32][..32], [0xbb; 32]);
        src.unregister_buffers(table).unwrap();
        // The other way round.
        let iovs: Vec<IoSliceMut<'_>> = vecs.iter_mut().map(|v| IoSliceMut::new(v)).collect();
        // SAFETY: as above.
        let table = unsafe { dst.register_buffers(&iovs) }.unwrap();
        drop(iovs);
        // SAFETY: as above.
        let cloned = unsafe { src.clone_buffers(&dst, &table, 0, 64) }.unwrap();
        dst.unregister_buffers(table).unwrap();
        vecs[5].fill(0);
        assert_eq!(
            use_buf(&mut src, &mut vecs[5], cloned.get(5).unwrap()),
            32,
            "{case}"
        );
        assert_eq!(vecs[5][..32], [0xbb; 32]);
        src.unregister_buffers(cloned).unwrap();
    }
    // test_dummy: one empty slot (the C test registers a null iovec; an
    // empty Rust slice is not null, and the kernel faults on it, so the
    // empty slot comes from a sparse registration).
    let mut src = Ring::new(1).unwrap();
    let mut dst = Ring::new(1).unwrap();
    let table = src.register_buffers_sparse(1).unwrap();
    // SAFETY: the table holds no memory.
    let cloned = unsafe { dst.clone_buffers(&src, &table, 0, 1) }.unwrap();
    src.unregister_buffers(table).unwrap();
    dst.unregister_buffers(cloned).unwrap();
}

/// regbuf-clone.c `test_offsets`, its clones into a ring without buffers:
/// a clone of the second half of 64 buffers (from source offset 32)
/// becomes the target's buffers 0 to 31, its buffer 0 the source's 32; a
/// clone that runs past the source's table is refused before the kernel
/// sees it (the kernel's `EOVERFLOW` and `EINVAL`). The clones into a
/// target offset and with `IORING_REGISTER_DST_REPLACE` are
/// `regbuf_clone_into_a_target_offset_and_replacing`.
#[test]
fn regbuf_clone_from_a_source_offset() {
    let _watch = uring_tests::watchdog();
    let mut vecs: Vec<Vec<u8>> = (0..64).map(|_| vec![0u8; 8192]).collect();
    let mut src = Ring::new(1).unwrap();
    let mut dst = Ring::new(1).unwrap();
    let iovs: Vec<IoSliceMut<'_>> = vecs.iter_mut().map(|v| IoSliceMut::new(v)).collect();
    // SAFETY: `vecs` outlives both rings, and only the fixed reads below
    // touch it while it is registered.
    let table = unsafe { src.register_buffers(&iovs) }.unwrap();
    drop(iovs);
    for (offset, count) in [(32u32, 64u32), (0, 65)] {
        // SAFETY: refused (asserted), so the kernel keeps nothing.
        let refused = unsafe { dst.clone_buffers(&src, &table, offset, count) };
        assert_eq!(
            refused.err().and_then(|e| e.raw_os_error()),
            Some(libc::EINVAL),
            "{count} from {offset}"
        );
    }
    // SAFETY: as above.
    let cloned = match unsafe { dst.clone_buffers(&src, &table, 32, 32) } {
        Ok(t) => t,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_REGISTER_CLONE_BUFFERS: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(cloned.len(), 32);
    assert!(cloned.get(32).is_err());
    assert_eq!(use_buf(&mut dst, &mut vecs[32], cloned.get(0).unwrap()), 32);
    assert_eq!(vecs[32][..32], [0xbb; 32]);
    // Buffer 0 of the clone is not the source's buffer 0.
    assert_eq!(
        use_buf(&mut dst, &mut vecs[0], cloned.get(0).unwrap()),
        -libc::EFAULT
    );
    dst.unregister_buffers(cloned).unwrap();
    src.unregister_buffers(table).unwrap();
}

/// regbuf-clone.c `test_offsets`, its clones into a target offset
/// (`Ring::clone_buffers_replace`: `dst_off` with
/// `IORING_REGISTER_DST_REPLACE`, 6.13). A ring without buffers takes a
/// sparse table first (the C test clones into it without one, the kernel
/// making the table; uring names the target table by its handle): half the
/// buffers cloned to slots 32 to 63 leave slot 0 empty (`EFAULT`) and make
/// slot 32 the source's 32. A target range past the most slots a table
/// holds is refused before the kernel sees it (the kernel's `EOVERFLOW`),
/// the table coming back. A plain clone into a ring with buffers fails
/// with `EBUSY`; replacing the empty slots 0 to 31 makes slot 0 the
/// source's 0. On a fresh sparse table of 64, a plain clone is `EBUSY`,
/// the replacing one fills slots 0 to 31; one of all 64 at slot 32 then
/// grows the table to 96, slot 0 kept, slot 95 the source's 63 and slot
/// 64 the source's 32.
#[test]
fn regbuf_clone_into_a_target_offset_and_replacing() {
    let _watch = uring_tests::watchdog();
    let mut vecs: Vec<Vec<u8>> = (0..64).map(|_| vec![0u8; 8192]).collect();
    let mut src = Ring::new(1).unwrap();
    let mut dst = Ring::new(1).unwrap();
    let iovs: Vec<IoSliceMut<'_>> = vecs.iter_mut().map(|v| IoSliceMut::new(v)).collect();
    // SAFETY: `vecs` outlives both rings (declared before them), and only
    // the fixed reads below touch it while it is registered.
    let table = unsafe { src.register_buffers(&iovs) }.unwrap();
    drop(iovs);

    // Half the buffers into the middle of an empty table.
    let sparse = dst.register_buffers_sparse(32).unwrap();
    // SAFETY: as above, for the clone.
    let cloned = match unsafe { dst.clone_buffers_replace(sparse, 32, &src, &table, 32, 32) } {
        Ok(t) => t,
        Err(e) if e.error.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!(
                "no IORING_REGISTER_DST_REPLACE clones (6.13): {}",
                e.error
            ));
            return;
        }
        Err(e) => panic!("{}", e.error),
    };
    assert_eq!(cloned.len(), 64, "the table grew to the clone's end");
    assert_eq!(
        use_buf(&mut dst, &mut vecs[0], cloned.get(0).unwrap()),
        -libc::EFAULT
    );
    assert_eq!(
        use_buf(&mut dst, &mut vecs[32], cloned.get(32).unwrap()),
        32
    );
    assert_eq!(vecs[32][..32], [0xbb; 32]);
    dst.unregister_buffers(cloned).unwrap();

    // A target offset that overflows is refused, the table handed back.
    let sparse = dst.register_buffers_sparse(1).unwrap();
    // SAFETY: refused (asserted), so the kernel keeps nothing.
    let refused = unsafe { dst.clone_buffers_replace(sparse, u32::MAX - 32, &src, &table, 0, 64) };
    let refused = refused.expect_err("an overflowing target offset");
    assert_eq!(refused.error.raw_os_error(), Some(libc::EINVAL));
    assert_eq!(refused.handle.len(), 1);
    dst.unregister_buffers(refused.handle).unwrap();

    // The middle again; a plain clone on top is EBUSY; then the empty
    // first half is replaced.
    let sparse = dst.register_buffers_sparse(1).unwrap();
    // SAFETY: as above.
    let cloned = unsafe { dst.clone_buffers_replace(sparse, 32, &src, &table, 32, 32) }.unwrap();
    assert_eq!(
        use_buf(&mut dst, &mut vecs[32], cloned.get(32).unwrap()),
        32
    );
    assert_eq!(
        use_buf(&mut dst, &mut vecs[0], cloned.get(0).unwrap()),
        -libc::EFAULT
    );
    // SAFETY: refused (asserted), so the kernel keeps nothing.
    let busy = unsafe { dst.clone_buffers(&src, &table, 32, 32) };
    assert_eq!(busy.err().and_then(|e| e.raw_os_error()), Some(libc::EBUSY));
    // SAFETY: as above.
    let cloned = unsafe { dst.clone_buffers_replace(cloned, 0, &src, &table, 0, 32) }.unwrap();
    assert_eq!(cloned.len(), 64);
    vecs[0].fill(0);
    assert_eq!(use_buf(&mut dst, &mut vecs[0], cloned.get(0).unwrap()), 32);
    assert_eq!(vecs[0][..32], [0xbb; 32]);
    dst.unregister_buffers(cloned).unwrap();

    // A full sparse table: plain clone EBUSY, replacing one fills it.
    let sparse = dst.register_buffers_sparse(64).unwrap();
    // SAFETY: refused (asserted), so the kernel keeps nothing.
    let busy = unsafe { dst.clone_buffers(&src, &table, 0, 32) };
    assert_eq!(busy.err().and_then(|e| e.raw_os_error()), Some(libc::EBUSY));
    // SAFETY: as above.
    let cloned = unsafe { dst.clone_buffers_replace(sparse, 0, &src, &table, 0, 32) }.unwrap();
    assert_eq!(cloned.len(), 64);
    vecs[0].fill(0);
    assert_eq!(use_buf(&mut dst, &mut vecs[0], cloned.get(0).unwrap()), 32);
    assert_eq!(vecs[0][..32], [0xbb; 32]);

    // All 64 at slot 32: the table grows to 96.
    // SAFETY: as above.
    let cloned = unsafe { dst.clone_buffers_replace(cloned, 32, &src, &table, 0, 64) }.unwrap();
    assert_eq!(cloned.len(), 96);
    for (slot, source) in [(0u32, 0usize), (95, 63), (64, 32)] {
        vecs[source].fill(0);
        assert_eq!(
            use_buf(&mut dst, &mut vecs[source], cloned.get(slot).unwrap()),
            32,
            "slot {slot}"
        );
        assert_eq!(vecs[source][..32], [0xbb; 32], "slot {slot}");
    }
    assert!(cloned.get(96).is_err());
    dst.unregister_buffers(cloned).unwrap();
    src.unregister_buffers(table).unwrap();
}

// ---------------------------------------------------------------- vec-regbuf.c

/// The registered buffer of the vec-regbuf.c ports: 32 pages, at a page
/// boundary inside `backing`, which has a page to spare on each side.
struct RegBuf {
    backing: Vec<u8>,
    start: usize,
}

const PAGE: usize = 4096;
const REGBUF_LEN: usize = 32 * PAGE;

impl RegBuf {
    fn new() -> RegBuf {
        let mut backing = vec![0u8; REGBUF_LEN + 3 * PAGE];
        let start = PAGE + backing.as_ptr().align_offset(PAGE);
        for (i, b) in backing[start..start + REGBUF_LEN].iter_mut().enumerate() {
            *b = i as u8;
        }
        RegBuf { backing, start }
    }

    /// The registered bytes.
    fn registered(&mut self) -> &mut [u8] {
        &mut self.backing[self.start..self.start + REGBUF_LEN]
    }

    /// `len` bytes from `offset` bytes after the registered buffer's start
    /// (a negative offset reaches before it, into the spare page).
    fn at(&self, offset: isize, len: usize) -> &[u8] {
        let from = (self.start as isize + offset) as usize;
        &self.backing[from..from + len]
    }
}

/// A ring of 32 entries with a sparse table of 128 buffers, `regbuf`
/// registered at index 1 (vec-regbuf.c `reinit_ring`).
fn regbuf_ring(regbuf: &mut RegBuf) -> (Ring, uring::FixedBuffers) {
    let mut ring = Ring::new(32).unwrap();
    let table = ring.register_buffers_sparse(128).unwrap();
    // SAFETY: the caller keeps `regbuf` alive until the ring is dropped,
    // and only the ops of the tests touch it meanwhile.
    let n =
        unsafe { ring.update_buffers(&table, 1, &[Some(IoSliceMut::new(regbuf.registered()))]) };
    assert_eq!(n.unwrap(), 1);
    (ring, table)
}

/// Sends the `iovs` (inside the registered buffer) from a TCP connection
/// with a vectored fixed write, or a zero-copy `sendmsg` from the
/// registered buffer; returns the result, and the bytes the peer received.
/// The peer is drained between short waits (no second thread has to run
/// while the ring waits), until the op has completed (a zero-copy send:
/// with its notification) and its bytes have arrived.
fn regbuf_send(
    ring: &mut Ring,
    table: &uring::FixedBuffers,
    iovs: &[IoSlice<'_>],
    rw: bool,
) -> (i32, Vec<u8>) {
    use uring::MsgHdr;
    use uring::ops::{SendMsgZcFixed, WriteVFixed};
    let (client, mut server) = tcp_pair();
    server.set_nonblocking(true).unwrap();
    let index = table.get(1).unwrap();
    let msg = MsgHdr::new(iovs);
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let res = ring.scope(|s| {
        if rw {
            s.push(WriteVFixed::new(&client, iovs, index).user_data(1))
                .unwrap();
        } else {
            s.push(SendMsgZcFixed::new(&client, &msg, index).user_data(1))
                .unwrap();
        }
        s.submit().unwrap();
        let mut res = None;
        let mut done = false;
        loop {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                match server.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            if done && res.is_some_and(|r: i32| r <= 0 || got.len() >= r as usize) {
                return res.unwrap();
            }
            assert!(Instant::now() < deadline, "the send never ended: {res:?}");
            let _ = s.wait_timeout(1, Duration::from_millis(5));
            for cqe in s.completions() {
                if cqe.is_notification() {
                    done = true;
                } else {
                    assert!(res.is_none(), "two results: {cqe:?}");
                    res = Some(cqe.res());
                    done = rw || !cqe.has_more();
                }
            }
        }
    });
    drop(client);
    (res, got)
}

/// vec-regbuf.c `test_basic`: vectored fixed writes (`WRITEV_FIXED`) and
/// zero-copy fixed `sendmsg`s to a TCP connection, of iovecs inside a
/// registered buffer of 32 pages: a page, 12 pages and 33 bytes, 3 bytes at
/// offset 1, unaligned runs, the whole buffer, pieces at its right end,
/// 4 and 6 iovecs, repeated and growing; each sends all its bytes, and the
/// peer receives the iovecs' bytes in order.
#[test]
fn vec_regbuf_vectored_sends_from_a_registered_buffer() {
    let _watch = uring_tests::watchdog();
    let probe = Ring::new(1).unwrap();
    if !uring_tests::require_op::<uring::ops::WriteVFixed<'_, '_>>(&probe) {
        return;
    }
    drop(probe);
    let mut regbuf = RegBuf::new();
    let full = REGBUF_LEN as isize;
    let page = PAGE as isize;
    // (offset, len) of each iovec kind of the C test.
    let iov_page = (0, PAGE);
    let iov_big = (0, PAGE * 12 + 33);
    let iov_inner = (1, 3);
    let iov_big_unalign = (10, PAGE * 7 + 41);
    let iov_full = (0, REGBUF_LEN);
    let iov_right1 = (full - page + 5, PAGE - 5);
    let iov_right2 = (full - page - 5, PAGE + 5);
    let iov_full_unalign = (1, REGBUF_LEN - 1);
    let iov_maxbvec = (page - 1, PAGE + 2);
    let vecs = [
        iov_page,
        iov_big,
        iov_inner,
        iov_big_unalign,
        iov_big_unalign,
    ];
    let sequences: Vec<Vec<Vec<(isize, usize)>>> = vec![
        vec![vec![iov_page]],
        vec![vec![vecs[0]], vec![vecs[0]]],
        vec![vec![vecs[1]], vec![vecs[1]]],
        vec![vec![vecs[2]], vec![vecs[2]]],
        vec![vec![vecs[3]], vec![vecs[3]]],
        vec![vec![vecs[0]], vec![vecs[3]]],
        vec![vec![vecs[3]], vec![vecs[0]]],
        vec![vecs[..4].to_vec(), vecs[..4].to_vec()],
        vec![vecs[..2].to_vec(), vecs[..3].to_vec(), vecs[..4].to_vec()],
        vec![vec![iov_page; 1], vec![iov_page; 2], vec![iov_page; 3]],
        vec![vec![iov_page; 3], vec![iov_page; 2], vec![iov_page; 1]],
        vec![vec![iov_right1], vec![iov_right2], vec![iov_right1]],
        vec![vec![iov_full], vec![iov_full], vec![iov_full; 3]],
        vec![
            vec![iov_full_unalign],
            vec![iov_full_unalign],
            vec![iov_full_unalign; 3],
        ],
        vec![
            vec![iov_maxbvec; 1],
            vec![iov_maxbvec; 2],
            vec![iov_maxbvec; 3],
        ],
        vec![
            vec![iov_maxbvec; 6],
            vec![iov_maxbvec; 6],
            vec![iov_maxbvec; 6],
        ],
    ];
    for rw in [true, false] {
        for (n, sequence) in sequences.iter().enumerate() {
            let (mut ring, table) = regbuf_ring(&mut regbuf);
            for (i, work) in sequence.iter().enumerate() {
                let iovs: Vec<IoSlice<'_>> = work
                    .iter()
                    .map(|&(off, len)| IoSlice::new(regbuf.at(off, len)))
                    .collect();
                let expected: Vec<u8> = iovs.iter().flat_map(|v| v.iter().copied()).collect();
                let (res, got) = regbuf_send(&mut ring, &table, &iovs, rw);
                let case = format!("writev {rw}, sequence {n}, step {i}");
                assert_eq!(res as usize, expected.len(), "{case}");
                assert!(got == expected, "{case}: the bytes received differ");
            }
            drop(ring);
        }
    }
}

/// vec-regbuf.c `test_fail`, the iovecs safe code can make: eight empty
/// iovecs send nothing (a result of 0 or an error, never a byte); an
/// iovec a byte before the registered buffer, or a byte past its end,
/// fails. (The C test's null and wild addresses are not slices Rust can
/// make.)
#[test]
fn vec_regbuf_iovecs_outside_the_registered_buffer_fail() {
    let _watch = uring_tests::watchdog();
    let probe = Ring::new(1).unwrap();
    if !uring_tests::require_op::<uring::ops::WriteVFixed<'_, '_>>(&probe) {
        return;
    }
    drop(probe);
    let mut regbuf = RegBuf::new();
    for rw in [true, false] {
        let (mut ring, table) = regbuf_ring(&mut regbuf);
        let empty = vec![IoSlice::new(regbuf.at(0, 0)); 8];
        let (res, got) = regbuf_send(&mut ring, &table, &empty, rw);
        assert!(
            res <= 0 && got.is_empty(),
            "writev {rw}: empty iovecs sent {res}"
        );
        for (what, off) in [("under", -1isize), ("over", REGBUF_LEN as isize)] {
            let iov = [IoSlice::new(regbuf.at(off, 1))];
            let (res, _) = regbuf_send(&mut ring, &table, &iov, rw);
            assert!(res < 0, "writev {rw}: a byte {what} the buffer: {res}");
        }
        drop(ring);
    }
}

/// vec-regbuf.c `test_readv`: `READV_FIXED` of a file into one page, three
/// pages and an unaligned run of the registered buffer reads the file's
/// bytes into each iovec in order.
#[test]
fn vec_regbuf_readv_fixed_into_a_registered_buffer() {
    use uring::ops::ReadVFixed;
    let _watch = uring_tests::watchdog();
    let probe = Ring::new(1).unwrap();
    if !uring_tests::require_op::<ReadVFixed<'_, '_>>(&probe) {
        return;
    }
    drop(probe);
    let mut regbuf = RegBuf::new();
    let shapes: [&[(usize, usize)]; 3] = [
        &[(0, PAGE)],
        &[(0, PAGE), (PAGE, PAGE), (2 * PAGE, PAGE)],
        &[(1, PAGE - 1)],
    ];
    for shape in shapes {
        let total: usize = shape.iter().map(|&(_, len)| len).sum();
        let expected: Vec<u8> = (0..total).map(|i| i as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&expected).unwrap();
        let (mut ring, table) = regbuf_ring(&mut regbuf);
        let index = table.get(1).unwrap();
        let mem = regbuf.registered();
        mem.fill(0);
        // Split the registered bytes into the iovecs' disjoint pieces.
        let mut pieces = Vec::new();
        let mut rest = mem;
        let mut at = 0;
        for &(off, len) in shape {
            let (_, tail) = rest.split_at_mut(off - at);
            let (piece, tail) = tail.split_at_mut(len);
            pieces.push(piece);
            rest = tail;
            at = off + len;
        }
        let mut iovs: Vec<IoSliceMut<'_>> = pieces.into_iter().map(IoSliceMut::new).collect();
        let cqe = uring_tests::complete(&mut ring, ReadVFixed::new(&file, &mut iovs[..], index));
        assert_eq!(cqe.res() as usize, total, "{shape:?}: {cqe:?}");
        let got: Vec<u8> = iovs.iter().flat_map(|v| v.iter().copied()).collect();
        assert!(got == expected, "{shape:?}: the bytes read differ");
        drop(iovs);
        drop(ring);
    }
}

// ---------------------------------------------------------------- resize-rings.c

/// Waits for and returns `n` completions in CQ order, submitting nothing.
fn wait_in_order(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    while got.len() < n {
        ring.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    got
}

/// `count` NOPs with `user_data` 1 to `count`, each completing with 0.
fn nops_from_one(count: u64) -> Vec<(u64, i32)> {
    (1..=count).map(|i| (i, 0)).collect()
}

/// resize-rings.c `test_basic`, `test_all_copy`, `test_overflow` and
/// `test_same_resize`, on deferred-task-work rings (the only ones the
/// kernel resizes): a NOP before and one after a resize complete in
/// order (`ASYNC` or not); 32 NOP completions waiting in the CQ survive a
/// resize to a larger ring, in order; they fit a CQ of exactly 32, but a
/// CQ of 16 is refused (`EOVERFLOW`); a "resize" to the sizes the ring has
/// changes nothing.
#[test]
fn resize_rings_keeps_waiting_completions_in_order() {
    let _watch = uring_tests::watchdog();
    for async_ in [false, true] {
        let Some(mut ring) = uring_tests::defer_ring(8) else {
            return;
        };
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        ring.push(Nop::new().flags(flags).user_data(1)).unwrap();
        ring.submit().unwrap();
        match ring.resize(32, 64) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOMEM)) => {
                skip(format_args!("the kernel does not resize rings: {e}"));
                return;
            }
            Err(e) => panic!("{e}"),
        }
        assert_eq!((ring.sq_entries(), ring.cq_entries()), (32, 64));
        ring.push(Nop::new().flags(flags).user_data(2)).unwrap();
        ring.submit().unwrap();
        assert_eq!(
            wait_in_order(&mut ring, 2),
            nops_from_one(2),
            "async {async_}"
        );
    }
    // test_all_copy
    let Some(mut ring) = uring_tests::defer_ring(8) else {
        return;
    };
    ring.resize(32, 64).unwrap();
    for i in 1..=32 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 32);
    ring.resize(64, 128).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (64, 128));
    assert_eq!(wait_in_order(&mut ring, 32), nops_from_one(32));
    // test_overflow
    ring.resize(32, 64).unwrap();
    for i in 1..=32 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 32);
    ring.resize(32, 32).unwrap();
    let refused = ring.resize(8, 16).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EOVERFLOW), "{refused:?}");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (32, 32));
    assert_eq!(wait_in_order(&mut ring, 32), nops_from_one(32));
    // test_same_resize
    let Some(mut ring) = uring_tests::defer_ring(32) else {
        return;
    };
    ring.resize(32, 64).unwrap();
    for i in 1..=32 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 32);
    assert_eq!(wait_in_order(&mut ring, 32), nops_from_one(32));
}

/// resize-rings.c `test_pipes`: batches of up to 128 reads of 8 bytes of a
/// pipe, all in flight, fed 8 bytes at a time; the ring is resized at the
/// first completion of each batch (with every read of the batch still in
/// flight) and at every 17th (SQ 64, 32, 16, CQ 256 and 128 in turn; a CQ
/// too small for what waits in it is refused with `EOVERFLOW` and tried
/// later). Every read completes with its 8 bytes, under a `user_data` of
/// its own batch. `ASYNC` and not. (The C test's writer is a thread; here
/// the test writes between waits.)
#[test]
fn resize_rings_reads_in_flight_across_resizes() {
    const READS: usize = 2048 - 128;
    let _watch = uring_tests::watchdog();
    for async_ in [false, true] {
        let (rx, tx) = pipe();
        let mut writer = std::fs::File::from(tx);
        // Before the ring: the reads name them.
        let mut bufs = vec![[0u8; 8]; 128];
        let Some(mut ring) = uring_tests::defer_ring(8) else {
            return;
        };
        if let Err(e) = ring.resize(128, 128) {
            skip(format_args!("the kernel does not resize rings: {e}"));
            return;
        }
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let resize = |ring: &mut Ring, sizes: &mut (u32, u32), rotate: bool| match ring
            .resize(sizes.0, sizes.1)
        {
            Ok(()) => {
                assert_eq!((ring.sq_entries(), ring.cq_entries()), *sizes);
                if rotate {
                    sizes.0 = match sizes.0 {
                        32 => 64,
                        64 => 16,
                        _ => 32,
                    };
                    sizes.1 = if sizes.1 == 128 { 256 } else { 128 };
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EOVERFLOW) => {}
            Err(e) => panic!("resize to {sizes:?}: {e}"),
        };
        let mut sizes = (64, 256);
        let mut to_read = READS;
        let mut ud = 0u64;
        while to_read > 0 {
            let first = ud + 1;
            let mut n = 0;
            while n < to_read.min(128) && ring.space_left() > 0 {
                ud += 1;
                push_lent!(
                    ring,
                    Read::new(&rx, &mut bufs[n][..]).flags(flags).user_data(ud)
                )
                .unwrap();
                n += 1;
            }
            to_read -= n;
            assert_eq!(ring.submit().unwrap() as usize, n);
            for i in 0..n {
                if i == 0 {
                    resize(&mut ring, &mut sizes, false);
                    sizes = (32, 128);
                }
                writer.write_all(&[0x5a; 8]).unwrap();
                ring.wait_timeout(1, PATIENCE).unwrap();
                let cqe = ring.peek().unwrap();
                assert_eq!(cqe.res(), 8, "async {async_}: {cqe:?}");
                assert!(
                    (first..=ud).contains(&cqe.user_data()),
                    "async {async_}: {cqe:?} outside {first}..={ud}"
                );
                ring.advance(1);
                if i % 17 == 0 {
                    resize(&mut ring, &mut sizes, true);
                }
            }
        }
        assert_eq!(stray(&mut ring), [], "async {async_}");
        drop(ring);
        assert!(bufs.iter().all(|b| *b == [0x5a; 8]));
    }
}

// ---------------------------------------------------------------- socket-rw-offset.c, socket-nb.c

/// socket-rw-offset.c: on a connected TCP pair, a vectored read at offset
/// -1 (the "current position", which a socket does not have) and a
/// vectored write at offset 0 each move 128 bytes.
#[test]
fn socket_rw_offset_vectored_io_at_the_current_position_of_a_socket() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(32).unwrap();
    if !require_features(&ring, Features::RW_CUR_POS, "reads at the current position") {
        return;
    }
    let (client, server) = tcp_pair();
    let out = uring_tests::pattern(128, 3);
    let mut back = vec![0u8; 128];
    let wiov = [IoSlice::new(&out)];
    let mut riov = [IoSliceMut::new(&mut back)];
    let got = ring.scope(|s| {
        s.push(
            ReadV::new(&server, &mut riov[..])
                .offset(u64::MAX)
                .user_data(1),
        )
        .unwrap();
        s.push(WriteV::new(&client, &wiov[..]).user_data(2))
            .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, 128), (2, 128)]);
    assert_eq!(back, out);
}

/// socket-nb.c: a receive on a TCP socket with nothing to read completes
/// at once with `EAGAIN` when flagged `MSG_DONTWAIT`, and otherwise waits,
/// whether or not the socket is `O_NONBLOCK`.
#[test]
fn socket_nb_only_msg_dontwait_makes_an_empty_receive_eagain() {
    use uring::MsgFlags;
    use uring::ops::Recv;
    let _watch = uring_tests::watchdog();
    for o_nonblock in [false, true] {
        for dontwait in [false, true] {
            let (_client, server) = tcp_pair();
            if o_nonblock {
                set_nonblock(server.as_fd(), true);
            }
            let flags = if dontwait {
                MsgFlags::DONTWAIT
            } else {
                MsgFlags::empty()
            };
            let mut ring = Ring::new(32).unwrap();
            let mut buf = [0u8; 128];
            let got = ring.scope(|s| {
                s.push(
                    Recv::new(&server, &mut buf[..])
                        .msg_flags(flags)
                        .user_data(1),
                )
                .unwrap();
                s.submit().unwrap();
                let _ = s.wait_timeout(1, Duration::from_millis(30));
                s.completions()
                    .map(|c| (c.user_data(), c.res()))
                    .collect::<Vec<_>>()
                // A receive still waiting is cancelled as the scope ends.
            });
            let case = format!("O_NONBLOCK {o_nonblock} MSG_DONTWAIT {dontwait}");
            if dontwait {
                assert_eq!(got, [(1, -libc::EAGAIN)], "{case}");
            } else {
                assert_eq!(got, [], "{case}");
            }
        }
    }
}

/// socket-rw-eagain.c: a vectored read of a non-blocking TCP socket with
/// nothing queued, submitted with a vectored write of 128 bytes from its
/// (non-blocking) peer. Where the kernel polls files itself
/// (`IORING_FEAT_FAST_POLL`), the read waits for the bytes and completes
/// with 128; before, it failed with `EAGAIN` (all the C test checks, on
/// kernels without the feature). The write moves 128 bytes either way.
#[test]
fn socket_rw_eagain_a_read_of_an_empty_non_blocking_socket() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(32).unwrap();
    let fast_poll = ring.params().has(Features::FAST_POLL);
    let (client, server) = tcp_pair();
    set_nonblock(server.as_fd(), true);
    set_nonblock(client.as_fd(), true);
    let out = uring_tests::pattern(128, 5);
    let mut back = vec![0u8; 128];
    let wiov = [IoSlice::new(&out)];
    let mut riov = [IoSliceMut::new(&mut back)];
    let got = ring.scope(|s| {
        s.push(ReadV::new(&server, &mut riov[..]).user_data(1))
            .unwrap();
        s.push(WriteV::new(&client, &wiov[..]).user_data(2))
            .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    if fast_poll {
        assert_eq!(got, [(1, 128), (2, 128)]);
        assert_eq!(back, out);
    } else {
        assert_eq!(got, [(1, -libc::EAGAIN), (2, 128)]);
    }
}

// ---------------------------------------------------------------- socket-getsetsock-cmd.c

/// `getsockopt(2)` of an `int` option.
fn int_option(fd: BorrowedFd<'_>, level: i32, name: i32) -> i32 {
    let mut value = 0i32;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an open socket, an int and its length to fill.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut i32).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    assert_eq!(len as usize, std::mem::size_of::<i32>());
    value
}

/// socket-getsetsock-cmd.c: through socket commands, inline and `ASYNC`:
/// `SO_PEERNAME` comes back with the length and family `getsockopt(2)`
/// gives, `SO_RCVBUF` with the same 4-byte value; `SO_REUSEPORT` set to 0
/// and 1, and `TCP_USER_TIMEOUT` set to 1 to 10, read back the same with
/// `getsockopt(2)`.
#[test]
fn socket_getsetsock_cmd_matches_the_system_calls() {
    use uring::SockOpt;
    use uring::ops::{GetSockOpt, SetSockOpt};
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(32).unwrap();
    if !uring_tests::require_op::<GetSockOpt<'_>>(&ring) {
        return;
    }
    let (tx, mut rx) = tcp_pair();
    (&tx).write_all(b"foobarbaz").unwrap();
    let mut first = [0u8; 9];
    rx.read_exact(&mut first).unwrap();
    for async_ in [false, true] {
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        // SO_PEERNAME: the peer's address, as the system call gives it,
        // into a `struct sockaddr` (the kernel refuses a longer buffer).
        let mut theirs = [0u8; std::mem::size_of::<libc::sockaddr>()];
        let mut theirs_len = theirs.len() as libc::socklen_t;
        // SAFETY: an open socket, and a buffer of `theirs_len` bytes.
        let rc = unsafe {
            libc::getsockopt(
                tx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERNAME,
                theirs.as_mut_ptr().cast(),
                &mut theirs_len,
            )
        };
        assert_eq!(rc, 0);
        let mut ours = [0u8; std::mem::size_of::<libc::sockaddr>()];
        let cqe = uring_tests::complete(
            &mut ring,
            GetSockOpt::new(&rx, SockOpt::SO_PEERNAME, &mut ours[..]).flags(flags),
        );
        assert_eq!(cqe.res(), theirs_len as i32, "async {async_}: {cqe:?}");
        assert_eq!(
            ours[..2],
            theirs[..2],
            "async {async_}: the families differ"
        );
        // SO_RCVBUF
        let mut value = [0u8; 4];
        let cqe = uring_tests::complete(
            &mut ring,
            GetSockOpt::new(&rx, SockOpt::SO_RCVBUF, &mut value[..]).flags(flags),
        );
        assert_eq!(cqe.res(), 4, "async {async_}: {cqe:?}");
        assert_eq!(
            i32::from_ne_bytes(value),
            int_option(rx.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF)
        );
        // SO_REUSEPORT and TCP_USER_TIMEOUT
        let sets = [
            (SockOpt::SO_REUSEPORT, 0..=1i32),
            (SockOpt::TCP_USER_TIMEOUT, 1..=10),
        ];
        for (option, values) in sets {
            for v in values {
                let bytes = v.to_ne_bytes();
                let cqe = uring_tests::complete(
                    &mut ring,
                    SetSockOpt::new(&rx, option, &bytes[..]).flags(flags),
                );
                assert_eq!(cqe.res(), 0, "async {async_} {option:?} {v}: {cqe:?}");
                assert_eq!(
                    int_option(rx.as_fd(), option.level(), option.name()),
                    v,
                    "async {async_} {option:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- wakeup-hang.c

/// wakeup-hang.c: a poll of a pipe's read end (or of an eventfd) is
/// submitted, the ring moves to a thread that waits on it, and another
/// thread writes a second later: the waiting thread wakes with the poll's
/// completion (`POLLIN`).
#[test]
fn wakeup_hang_a_waiter_on_another_thread_is_woken() {
    let _watch = uring_tests::watchdog();
    for use_eventfd in [false, true] {
        let (read_end, write_end) = if use_eventfd {
            let efd = eventfd(false);
            let writer = efd.try_clone().unwrap();
            (efd, writer)
        } else {
            pipe()
        };
        let mut ring = Ring::new(8).unwrap();
        push_lent!(ring, PollAdd::new(&read_end, PollEvents::IN).user_data(2)).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        let listener = std::thread::spawn(move || {
            ring.wait_timeout(1, PATIENCE)
                .expect("the poll's completion");
            let got: Vec<(u64, i32)> = ring
                .completions()
                .map(|c| (c.user_data(), c.res()))
                .collect();
            drop(ring);
            got
        });
        std::thread::sleep(Duration::from_millis(200));
        let waker = std::thread::spawn(move || write_to(&write_end, &1u64.to_ne_bytes()));
        let got = listener.join().unwrap();
        waker.join().unwrap();
        assert_eq!(got, [(2, libc::POLLIN as i32)], "eventfd {use_eventfd}");
        drop(read_end);
    }
}

// ---------------------------------------------------------------- min-timeout-wait.c

/// Reads of `count` timerfds armed to fire after `delay` (the completions
/// that arrive during the wait, where min-timeout-wait.c has a thread
/// write to pipes that reads wait on; timeout ops would not do, since a
/// timeout op that fires ends any wait); one wait for 4 completions with a
/// timeout of 1 s and a minimum wait of `min_wait`. Returns the wait's
/// result, its length and the completions then ready.
fn min_wait_arrivals(
    ring: &mut Ring,
    count: usize,
    delay: Duration,
    min_wait: Duration,
) -> (uring::Result<()>, Duration, u32) {
    use uring::WaitArgs;
    let timers: Vec<OwnedFd> = (0..count).map(|_| timerfd()).collect();
    let mut bufs = vec![[0u8; 8]; count];
    for (i, (timer, buf)) in timers.iter().zip(bufs.iter_mut()).enumerate() {
        push_lent!(ring, Read::new(timer, &mut buf[..]).user_data(i as u64)).unwrap();
    }
    ring.submit().unwrap();
    // Timed from before the timers are armed: an arrival `delay` in is
    // never seen sooner than that.
    let start = Instant::now();
    for timer in &timers {
        arm_timerfd(timer, delay);
    }
    let result = ring.wait_with(
        4,
        &WaitArgs::new()
            .timeout(Duration::from_secs(1))
            .min_wait(min_wait),
    );
    let took = start.elapsed();
    let ready = ring.ready();
    // Every read completes before its buffer goes.
    let all = wait_sorted(ring, count);
    assert_eq!(all, (0..count as u64).map(|i| (i, 8)).collect::<Vec<_>>());
    (result, took, ready)
}

/// NOPs, then one wait for 4 completions with a timeout of `timeout` and a
/// minimum wait of 50 ms: the wait's result and length.
fn min_wait_nops(ring: &mut Ring, nops: u64, timeout: Duration) -> (uring::Result<()>, Duration) {
    use uring::WaitArgs;
    for i in 0..nops {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit().unwrap();
    if nops > 0 {
        // An SQ thread takes the NOPs on its own time.
        while ring.ready() < nops as u32 {
            ring.wait_timeout(nops as u32, PATIENCE).unwrap();
        }
    }
    let start = Instant::now();
    let result = ring.wait_with(
        4,
        &WaitArgs::new()
            .timeout(timeout)
            .min_wait(Duration::from_millis(50)),
    );
    let took = start.elapsed();
    assert_eq!(ring.advance(nops as u32), nops as u32);
    (result, took)
}

/// min-timeout-wait.c, on a plain, a deferred-task-work and an SQPOLL
/// ring, each wait asking for 4 completions: with 4 ready it returns at
/// once; with 2 ready it returns after the minimum wait of 50 ms, not the
/// 100 ms timeout (`Ok`); with none it times out after 100 ms; one
/// completion arriving 100 ms in, after the 10 ms minimum, ends the wait
/// at its arrival; four arriving 10 ms in end a 200 ms minimum wait at
/// once; two arriving 1 ms in end it after the 100 ms minimum. (The
/// completions that arrive are reads of timerfds, where the C test's are
/// reads of pipes a thread writes to.) (The C
/// test's waits whose minimum outlasts the timeout, 20 ms, last the
/// minimum there; uring cuts the minimum to the timeout, as it documents,
/// and those time out at 20 ms.)
#[test]
fn min_timeout_wait_minimum_waits_end_the_wait_with_what_arrived() {
    let _watch = uring_tests::watchdog();
    let builders = [
        ("plain", Ring::builder()),
        ("defer", Ring::builder().single_issuer().defer_taskrun()),
        (
            "sqpoll",
            Ring::builder().sqpoll(Duration::from_millis(1000)),
        ),
    ];
    for (kind, builder) in builders {
        let mut ring = match builder.build(8) {
            Ok(r) => r,
            Err(e) => {
                skip(format_args!("{kind} ring: {e}"));
                continue;
            }
        };
        if !require_features(&ring, Features::MIN_TIMEOUT, "minimum waits") {
            return;
        }
        let ms = Duration::from_millis;
        // test_already
        let (result, took) = min_wait_nops(&mut ring, 4, ms(100));
        assert!(result.is_ok(), "{kind}: {result:?}");
        assert!(took < ms(50), "{kind}: {took:?}");
        // test_some
        let (result, took) = min_wait_nops(&mut ring, 2, ms(100));
        assert!(
            result.is_ok(),
            "{kind}: the minimum wait ended it: {result:?}"
        );
        assert!(took >= ms(40), "{kind}: {took:?}");
        // test_nothing
        let (result, took) = min_wait_nops(&mut ring, 0, ms(100));
        assert!(
            matches!(result, Err(uring::Error::TimedOut)),
            "{kind}: {result:?}"
        );
        assert!(took >= ms(90), "{kind}: {took:?}");
        // test_min_wait_biggest, as uring bounds it
        let (result, took) = min_wait_nops(&mut ring, 0, ms(20));
        assert!(
            matches!(result, Err(uring::Error::TimedOut)),
            "{kind}: {result:?}"
        );
        assert!(took >= ms(15), "{kind}: {took:?}");
        // test_late
        let (result, took, ready) = min_wait_arrivals(&mut ring, 1, ms(100), ms(10));
        assert!(result.is_ok(), "{kind}: {result:?}");
        assert_eq!(ready, 1, "{kind}");
        assert!(took >= ms(90) && took < ms(900), "{kind}: {took:?}");
        // test_post_wait
        let (result, took, ready) = min_wait_arrivals(&mut ring, 4, ms(10), ms(200));
        assert!(result.is_ok(), "{kind}: {result:?}");
        assert_eq!(ready, 4, "{kind}");
        assert!(took < ms(190), "{kind}: waited out the minimum: {took:?}");
        // test_some_wait
        let (result, took, ready) = min_wait_arrivals(&mut ring, 2, ms(1), ms(100));
        assert!(result.is_ok(), "{kind}: {result:?}");
        assert_eq!(ready, 2, "{kind}");
        assert!(took >= ms(90) && took < ms(900), "{kind}: {took:?}");
    }
}

/// min-timeout-wait.c `test_some_wait`, with the two completions that
/// arrive 1 ms into the wait coming from timeout ops: the wait for 4 with
/// a 100 ms minimum still ends after the minimum wait, with the 2
/// completions (`Ok`), as `WaitArgs::min_wait` documents. The kernel
/// wakes every wait when a timeout op fires; without a minimum wait
/// `wait_with` waits on for its completions or its timeout, but with one
/// it takes the early return for the end of the minimum wait.
#[test]
fn min_timeout_wait_a_firing_timeout_op_does_not_cut_the_minimum_wait() {
    use uring::WaitArgs;
    use uring::ops::Timeout;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::MIN_TIMEOUT, "minimum waits") {
        return;
    }
    for i in 0..2 {
        ring.push(Timeout::new(Duration::from_millis(1)).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    let start = Instant::now();
    let result = ring.wait_with(
        4,
        &WaitArgs::new()
            .timeout(Duration::from_secs(1))
            .min_wait(Duration::from_millis(100)),
    );
    let took = start.elapsed();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(ring.ready(), 2);
    assert!(
        took >= Duration::from_millis(90),
        "the wait ended {took:?} in, before its 100 ms minimum"
    );
}

// ---------------------------------------------------------------- reg-wait.c

/// reg-wait.c `test_regions` and `test_wait_arg`, what uring exposes of
/// them: a wait region registers on a ring created disabled (not on an
/// enabled one, `EINVAL`, nor twice); a registered wait of 1.1 s for 2
/// completions times out after about that long; the region's last slot
/// times a wait by its own arguments and the slot past it is refused. (A
/// page holds 64 slots, of which the library hands out 63: Linux 6.18 reads
/// slot 0 for a wait on the page's last.)
#[test]
fn reg_wait_registered_wait_arguments() {
    let _watch = uring_tests::watchdog();
    let mut enabled = Ring::new(8).unwrap();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    match ring.register_wait_region(1) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_REGISTER_MEM_REGION: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let refused = enabled.register_wait_region(1).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EINVAL), "{refused:?}");
    assert!(ring.register_wait_region(1).is_err(), "a second region");
    ring.enable().unwrap();
    // One page holds 64 slots of 64 bytes, the last never handed out.
    let slots = 4096 / std::mem::size_of::<sys::io_uring_reg_wait>() as u32 - 1;
    assert!(
        ring.set_registered_wait(slots, Some(Duration::from_micros(1)), None)
            .is_err()
    );
    assert!(ring.wait_registered(1, slots).is_err());
    ring.set_registered_wait(0, Some(Duration::from_millis(1100)), None)
        .unwrap();
    let start = Instant::now();
    let waited = ring.wait_registered(2, 0);
    let took = start.elapsed();
    assert!(matches!(waited, Err(uring::Error::TimedOut)), "{waited:?}");
    assert!(took >= Duration::from_millis(1000), "{took:?}");
    // Slot 0 still says 1.1 s: the last slot's 1 us is its own.
    ring.set_registered_wait(slots - 1, Some(Duration::from_micros(1)), None)
        .unwrap();
    let start = Instant::now();
    let waited = ring.wait_registered(1, slots - 1);
    let took = start.elapsed();
    assert!(matches!(waited, Err(uring::Error::TimedOut)), "{waited:?}");
    assert!(
        took < Duration::from_millis(900),
        "the last slot's wait took {took:?}"
    );
}

/// reg-wait.c `test_basic` with a timeout op in flight: a registered wait
/// for 4 completions whose slot holds a 1 s timeout and no minimum wait,
/// while two 1 ms timeout ops fire, ends as `wait_registered` documents,
/// when 4 completions are there or the slot's timeout passes: here with
/// `TimedOut` after about 1 s and the 2 completions ready (as `wait_with`
/// with the same timeout does). The kernel wakes every wait when a timeout
/// op fires, and uring takes any early return of a registered wait with a
/// completion ready for its end.
#[test]
fn reg_wait_a_firing_timeout_op_does_not_end_a_registered_wait() {
    use uring::ops::Timeout;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    if let Err(e) = ring.register_wait_region(1) {
        skip(format_args!("no IORING_REGISTER_MEM_REGION: {e}"));
        return;
    }
    ring.enable().unwrap();
    ring.set_registered_wait(0, Some(Duration::from_secs(1)), None)
        .unwrap();
    for i in 0..2 {
        ring.push(Timeout::new(Duration::from_millis(1)).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    let start = Instant::now();
    let waited = ring.wait_registered(4, 0);
    let took = start.elapsed();
    assert_eq!(ring.ready(), 2);
    assert!(
        matches!(waited, Err(uring::Error::TimedOut)),
        "{waited:?} after {took:?}"
    );
    assert!(took >= Duration::from_millis(900), "{took:?}");
}

// ---------------------------------------------------------------- sqwait.c, sq-poll-share.c, shared-wq.c

/// A file of `len` bytes of the pattern `seed` in `dir`, opened for reads
/// with `O_DIRECT` where the file system allows it (else buffered); the
/// file, its bytes, and whether it is direct.
fn direct_file(dir: &std::path::Path, len: usize, seed: u8) -> (std::fs::File, Vec<u8>, bool) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!("direct-{seed}"));
    let bytes = uring_tests::pattern(len, seed);
    std::fs::write(&path, &bytes).unwrap();
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(file) => (file, bytes, true),
        Err(e) => {
            skip(format_args!(
                "no O_DIRECT here ({e}): buffered reads instead"
            ));
            (std::fs::File::open(&path).unwrap(), bytes, false)
        }
    }
}

/// sqwait.c: 2000 reads of 4 KiB pushed one at a time to an SQPOLL ring of
/// 8 entries, up to 256 in flight; when the queue is full, the push waits
/// for the SQ thread to free a slot (`IORING_ENTER_SQ_WAIT`). Every read
/// completes with 4096 and the file's bytes at its offset.
#[test]
fn sqwait_pushes_wait_for_the_sq_thread_to_take_sqes() {
    const INFLIGHT: usize = 256;
    const NR_IOS: usize = 2000;
    const FILE: usize = 1 << 20;
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes, _) = direct_file(dir.path(), FILE, 7);
    let mut backing = vec![0u8; INFLIGHT * 4096 + 4096];
    let region = aligned(&mut backing, INFLIGHT * 4096);
    let mut chunks: Vec<&mut [u8]> = region.chunks_mut(4096).collect();
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(1000))
        .build(8)
        .unwrap();
    let mut free: Vec<usize> = (0..INFLIGHT).collect();
    let mut inflight = 0;
    let mut waits = 0;
    let reap = |ring: &mut Ring,
                chunks: &[&mut [u8]],
                free: &mut Vec<usize>,
                until: usize,
                inflight: &mut usize| {
        while *inflight > until {
            ring.wait_timeout(1, PATIENCE).unwrap();
            let cqes: Vec<Cqe> = ring.completions().collect();
            for cqe in cqes {
                let idx = (cqe.user_data() & 0xffff) as usize;
                let off = (cqe.user_data() >> 16) as usize;
                assert_eq!(cqe.res(), 4096, "{cqe:?}");
                assert!(chunks[idx][..] == bytes[off..off + 4096], "read at {off}");
                free.push(idx);
                *inflight -= 1;
            }
        }
    };
    for i in 0..NR_IOS {
        if ring.space_left() == 0 {
            waits += 1;
            let space = ring.wait_for_sq_space().unwrap();
            assert!(space > 0 && ring.space_left() > 0);
        }
        let idx = free.pop().unwrap();
        let off = (i % (FILE / 8192)) * 8192;
        push_lent!(
            ring,
            Read::new(&file, &mut *chunks[idx])
                .offset(off as u64)
                .user_data((off << 16 | idx) as u64)
        )
        .unwrap();
        ring.submit().unwrap();
        inflight += 1;
        if inflight >= INFLIGHT / 2 {
            reap(
                &mut ring,
                &chunks,
                &mut free,
                INFLIGHT / 2 - 1,
                &mut inflight,
            );
        }
    }
    reap(&mut ring, &chunks, &mut free, 0, &mut inflight);
    assert_eq!(free.len(), INFLIGHT);
    eprintln!("sqwait: {waits} pushes waited for the SQ thread");
    drop(ring);
}

/// sq-poll-share.c: four SQPOLL rings, three of them attached to the
/// first's SQ thread; rounds of 64 reads of 4 KiB on each: every read
/// completes with 4096 and the file's bytes at its offset.
#[test]
fn sq_poll_share_four_rings_on_one_sq_thread() {
    const BS: usize = 4096;
    const BUFFERS: usize = 64;
    const FILE: usize = 4 << 20;
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes, _) = direct_file(dir.path(), FILE, 11);
    let mut backing = vec![0u8; 4 * BUFFERS * BS + BS];
    let region = aligned(&mut backing, 4 * BUFFERS * BS);
    let mut chunks: Vec<&mut [u8]> = region.chunks_mut(BS).collect();
    let builder = Ring::builder().sqpoll(Duration::from_millis(1000));
    let mut rings = vec![builder.build(BUFFERS as u32).unwrap()];
    if !require_features(&rings[0], Features::SQPOLL_NONFIXED, "SQPOLL sharing") {
        return;
    }
    for _ in 1..4 {
        let ring = builder
            .clone()
            .attach_wq(&rings[0])
            .build(BUFFERS as u32)
            .unwrap();
        assert_eq!(ring.attached_wq(), Some(rings[0].as_raw_fd()));
        rings.push(ring);
    }
    let rounds = FILE / BS / BUFFERS / 4;
    for round in 0..rounds {
        let mut per_ring = chunks.chunks_mut(BUFFERS);
        let mut expected = Vec::new();
        for (r, ring) in rings.iter_mut().enumerate() {
            let bufs = per_ring.next().unwrap();
            for (j, buf) in bufs.iter_mut().enumerate() {
                let off = ((round * 4 + r) * BUFFERS + j) * BS;
                push_lent!(
                    ring,
                    Read::new(&file, &mut **buf)
                        .offset(off as u64)
                        .user_data(j as u64)
                )
                .unwrap();
                expected.push(off);
            }
            ring.submit().unwrap();
        }
        for (r, ring) in rings.iter_mut().enumerate() {
            let got = wait_sorted(ring, BUFFERS);
            assert_eq!(
                got,
                (0..BUFFERS as u64)
                    .map(|j| (j, BS as i32))
                    .collect::<Vec<_>>(),
                "round {round} ring {r}"
            );
        }
        for (buf, off) in chunks.iter().zip(expected) {
            assert!(
                buf[..] == bytes[off..off + BS],
                "round {round}: read at {off}"
            );
        }
    }
    drop(rings);
}

/// shared-wq.c `test_attach`: a ring attached to another's worker pool
/// (`IORING_SETUP_ATTACH_WQ`) is set up and works. (`test_attach_invalid`,
/// attaching to a descriptor that is not a ring, cannot be written:
/// `Builder::attach_wq` takes a `&Ring`.)
#[test]
fn shared_wq_a_ring_attached_to_anothers_workers() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(8).unwrap();
    let mut attached = Ring::builder().attach_wq(&ring).build(1).unwrap();
    assert_eq!(attached.attached_wq(), Some(ring.as_raw_fd()));
    attached
        .push(Nop::new().flags(SqeFlags::ASYNC).user_data(5))
        .unwrap();
    assert_eq!(reap_sorted(&mut attached, 1), [(5, 0)]);
}

// ---------------------------------------------------------------- send_recvmsg.c

/// send_recvmsg.c, the runs that receive into the caller's iovecs: a
/// `RECVMSG` on a UDP socket into one iovec of 128 bytes, or ten (nine of
/// one byte and one of 119), inline or `ASYNC`, and a `SENDMSG` of a
/// 53-byte string to it from another ring: both complete with 53, the
/// string lands across the iovecs in order, and the sender's address is
/// reported. (The runs that select a provided buffer have no form in
/// uring: its `RecvMsg` receives into the caller's iovecs, and only the
/// multishot `RecvMsgMulti` selects a buffer.)
#[test]
fn send_recvmsg_a_message_across_one_or_ten_iovecs() {
    use std::net::UdpSocket;
    use uring::ops::{RecvMsg, SendMsg};
    use uring::{MsgHdr, MsgHdrMut, SockAddr, SockAddrBuf};
    let _watch = uring_tests::watchdog();
    let text = b"This is a test of sendmsg and recvmsg over io_uring!\0";
    for (iov_count, async_) in [(1usize, false), (10, false), (1, true), (10, true)] {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dest = SockAddr::from(receiver.local_addr().unwrap());
        let mut buf = [0u8; 129];
        let mut from = SockAddrBuf::new();
        let (head, _) = buf.split_at_mut(128);
        let (ones, last) = head.split_at_mut(iov_count - 1);
        let mut iovs: Vec<IoSliceMut<'_>> = ones
            .chunks_mut(1)
            .map(IoSliceMut::new)
            .chain(std::iter::once(IoSliceMut::new(last)))
            .collect();
        let mut msg = MsgHdrMut::new(&mut iovs).from(&mut from);
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let mut send_ring = Ring::new(1).unwrap();
        let out = [IoSlice::new(text)];
        let out_msg = MsgHdr::new(&out).to(&dest);
        let mut ring = Ring::new(1).unwrap();
        let (sent, got) = ring.scope(|s| {
            s.push(RecvMsg::new(&receiver, &mut msg).flags(flags).user_data(1))
                .unwrap();
            s.submit().unwrap();
            let sent = uring_tests::complete(&mut send_ring, SendMsg::new(&sender, &out_msg)).res();
            s.wait_timeout(1, PATIENCE).unwrap();
            let cqe = s.completions().next().unwrap();
            (sent, (cqe.user_data(), cqe.res()))
        });
        let case = format!("{iov_count} iovecs, async {async_}");
        assert_eq!(sent, text.len() as i32, "{case}");
        assert_eq!(got, (1, text.len() as i32), "{case}");
        assert_eq!(
            msg.name_len() as usize,
            std::mem::size_of::<libc::sockaddr_in>()
        );
        assert_eq!(&buf[..text.len()], text, "{case}");
        assert_eq!(
            from.socket_addr(),
            Some(sender.local_addr().unwrap()),
            "{case}"
        );
    }
}

// ---------------------------------------------------------------- sendmsg_iov_clean.c

/// sendmsg_iov_clean.c: with the send buffer of a TCP connection (shrunk
/// to 8 KiB) full, 256 `SENDMSG`s of sixteen 64-byte iovecs are queued on
/// a deferred-task-work ring while the peer is drained: each completes
/// once with some of its bytes, and the peer receives exactly the bytes
/// sent before and by them. (The C test drains from a thread; here
/// between waits.)
#[test]
fn sendmsg_iov_clean_many_vectored_sends_on_a_full_socket() {
    use uring::MsgHdr;
    use uring::ops::SendMsg;
    const IOVS: usize = 16;
    const INFLIGHT: u64 = 256;
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = uring_tests::defer_ring(INFLIGHT as u32) else {
        return;
    };
    let (client, mut server) = tcp_pair();
    uring_tests::set_int_option(&client, libc::SOL_SOCKET, libc::SO_SNDBUF, 8 * 1024).unwrap();
    let data = [0xaau8; 64];
    set_nonblock(client.as_fd(), true);
    let mut prefill = 0usize;
    loop {
        match (&client).write(&data) {
            Ok(n) => prefill += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    set_nonblock(client.as_fd(), false);
    server.set_nonblocking(true).unwrap();
    let mut received = 0usize;
    let mut drain = |server: &mut TcpStream| loop {
        let mut buf = [0u8; 4096];
        match server.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                assert!(buf[..n].iter().all(|&b| b == 0xaa));
                received += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) => panic!("{e}"),
        }
    };
    let iovs = [IoSlice::new(&data); IOVS];
    let msg = MsgHdr::new(&iovs);
    let deadline = Instant::now() + PATIENCE;
    let results = ring.scope(|s| {
        for i in 0..INFLIGHT {
            s.push(SendMsg::new(&client, &msg).user_data(i)).unwrap();
        }
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < INFLIGHT as usize {
            assert!(Instant::now() < deadline, "{} sends completed", got.len());
            drain(&mut server);
            let _ = s.wait_timeout(1, Duration::from_millis(5));
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got
    });
    let mut ids: Vec<u64> = results.iter().map(|&(ud, _)| ud).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..INFLIGHT).collect::<Vec<_>>());
    let mut sent = 0usize;
    for &(ud, res) in &results {
        assert!(res > 0 && res as usize <= IOVS * 64, "send {ud}: {res}");
        sent += res as usize;
    }
    drop(client);
    while !drain(&mut server) {
        assert!(Instant::now() < deadline, "no end of stream");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(received, prefill + sent);
}

// ---------------------------------------------------------------- fixed-buf-merge.c

/// fixed-buf-merge.c: three direct reads of 4 KiB of a file, into
/// consecutive pages of a registered buffer of 128 pages starting a page
/// in, each complete with 4096 and the file's bytes.
#[test]
fn fixed_buf_merge_direct_reads_into_consecutive_registered_pages() {
    use uring::ops::ReadFixed;
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes, direct) = direct_file(dir.path(), 4 * 4096, 13);
    if !direct {
        return;
    }
    // Before the ring: the kernel uses it while it is registered.
    let mut backing = vec![0u8; 129 * 4096];
    let region = aligned(&mut backing, 128 * 4096);
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: `backing` outlives the ring, and only the reads below touch
    // the region meanwhile.
    let table = unsafe { ring.register_buffers(&[IoSliceMut::new(region)]) }.unwrap();
    let index = table.get(0).unwrap();
    let pages: Vec<&mut [u8]> = region[4096..4 * 4096].chunks_mut(4096).collect();
    let got = ring.scope(|s| {
        for (i, page) in pages.into_iter().enumerate() {
            s.push(
                ReadFixed::new(&file, page, index)
                    .offset(i as u64 * 4096)
                    .user_data(i as u64),
            )
            .unwrap();
        }
        s.submit_and_wait(3).unwrap();
        let mut got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(0, 4096), (1, 4096), (2, 4096)]);
    assert!(region[4096..4 * 4096] == bytes[..3 * 4096]);
    drop(ring);
}

// ---------------------------------------------------------------- nop-fixed-file-leak.c

/// nop-fixed-file-leak.c: a NOP asked to look up a fixed file
/// (`IORING_NOP_FILE` with `IOSQE_FIXED_FILE`) where the ring has no
/// table fails (`EBADF`) and keeps no reference to any file: once the
/// pipe's read end is closed, a write to its write end fails with `EPIPE`.
/// uring's `NopFile` over a descriptor never sets `IOSQE_FIXED_FILE` (its
/// type says which), so the SQE of the case is written raw; the typed
/// forms are in `tests/tests/ring_fd_nop_gaps.rs`.
#[test]
fn nop_fixed_file_leak_a_nop_keeps_no_file_reference() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut sqe = raw_sqe(
        sys::IORING_OP_NOP,
        rx.as_raw_fd(),
        0,
        0,
        sys::IOSQE_FIXED_FILE,
        1,
    );
    sqe.op_flags = sys::io_uring_sqe_op_flags {
        nop_flags: sys::IORING_NOP_FILE,
    };
    // SAFETY: a NOP names no memory; the descriptor number is looked up as
    // a slot of a table the ring does not have.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    let got = reap_sorted(&mut ring, 1);
    if got == [(1, -libc::EINVAL)] {
        skip("no IORING_NOP_FILE (6.13)");
        return;
    }
    assert_eq!(got, [(1, -libc::EBADF)]);
    drop(rx);
    let err = std::fs::File::from(tx).write(b"x").unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EPIPE),
        "the read end lives on: {err}"
    );
}

// ---------------------------------------------------------------- linked-defer-close.c

/// linked-defer-close.c: on a deferred-task-work ring, a multishot accept
/// takes a connection; three sends to it and a close of it, linked and all
/// flagged `CQE_SKIP_SUCCESS`, deliver the three messages and then end of
/// stream to the peer, and post no completion. (The C test's peer is a
/// thread; here the test reads the peer's end between short waits, since
/// the ring runs the linked ops' task work only while it waits.)
#[test]
fn linked_defer_close_linked_sends_then_close_reach_the_peer() {
    use uring::ops::{Accept, Close, Send};
    use uring::{AcceptFlags, Fd};
    let _watch = uring_tests::watchdog();
    // Before the ring: the multishot accept names it until the ring goes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let Some(mut ring) = uring_tests::defer_ring(8) else {
        return;
    };
    if !require_features(&ring, Features::CQE_SKIP, "CQE_SKIP_SUCCESS") {
        return;
    }
    push_lent!(
        ring,
        Accept::new(&listener)
            .iou_flags(AcceptFlags::MULTISHOT)
            .user_data(0)
    )
    .unwrap();
    ring.submit().unwrap();
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.set_nonblocking(true).unwrap();
    ring.wait_timeout(1, PATIENCE).unwrap();
    let accepted = ring.peek().unwrap();
    ring.advance(1);
    assert_eq!(accepted.user_data(), 0, "{accepted:?}");
    assert!(accepted.res() >= 0 && accepted.has_more(), "{accepted:?}");
    let fd = accepted.res();
    // SAFETY: the accept just returned this descriptor, owned by no one else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: the sends run before the close they are linked to, so the
    // descriptor is open (and the accepted connection) while they use it.
    let conn = unsafe { Fd::borrow_raw(fd) };
    let skip_ok = SqeFlags::CQE_SKIP_SUCCESS;
    let msgs: [&[u8]; 3] = [
        b"message number 1\n",
        b"message number 2\n",
        b"message number 3\n",
    ];
    push_lent!(
        ring,
        Send::new(conn, msgs[0])
            .flags(skip_ok)
            .user_data(0x100)
            .link(Send::new(conn, msgs[1]).flags(skip_ok).user_data(0x101))
            .link(Send::new(conn, msgs[2]).flags(skip_ok).user_data(0x102))
            .link(Close::new(owned).flags(skip_ok).user_data(0x200)),
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 4);
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    loop {
        let mut chunk = [0u8; 64];
        match peer.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "the peer never saw end of stream: {got:?}"
                );
                let _ = ring.wait_timeout(1, Duration::from_millis(10));
                let posted: Vec<(u64, i32)> = ring
                    .completions()
                    .map(|c| (c.user_data(), c.res()))
                    .collect();
                assert_eq!(posted, [], "a skipped completion was posted");
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, msgs.concat());
    assert_eq!(
        uring_tests::fd_errno(fd),
        Some(libc::EBADF),
        "the close did not run"
    );
    assert_eq!(stray(&mut ring), []);
    drop(ring);
}

// ---------------------------------------------------------------- iopoll-overflow.c

/// iopoll-overflow.c: on an IOPOLL ring with a CQ of 64 (`SUBMIT_ALL`),
/// eight batches of 32 direct reads are submitted and left to complete for
/// a second: all 256 completions arrive, with 4096 each, most of them
/// through the overflow list. Needs a file on a device that polls
/// (`O_DIRECT` on a block device with poll queues); skipped otherwise.
#[test]
fn iopoll_overflow_every_polled_completion_arrives() {
    const BUFFERS: usize = 32;
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes, direct) = direct_file(dir.path(), BUFFERS * 4096, 17);
    if !direct {
        return;
    }
    let mut backing = vec![0u8; 8 * BUFFERS * 4096 + 4096];
    let region = aligned(&mut backing, 8 * BUFFERS * 4096);
    let mut ring = match Ring::builder()
        .iopoll()
        .submit_all()
        .cq_entries(64)
        .build(64)
    {
        Ok(r) => r,
        Err(e) => {
            skip(format_args!("no IOPOLL ring: {e}"));
            return;
        }
    };
    let mut chunks: Vec<&mut [u8]> = region.chunks_mut(4096).collect();
    push_lent!(ring, Read::new(&file, &mut *chunks[0]).user_data(u64::MAX)).unwrap();
    let probe = reap_sorted(&mut ring, 1);
    if probe[0].1 == -libc::EOPNOTSUPP {
        skip(
            "the temporary directory's device does not poll (no block device with poll \
             queues): IOPOLL reads of its files fail with EOPNOTSUPP",
        );
        return;
    }
    assert_eq!(probe, [(u64::MAX, 4096)]);
    let mut off = (BUFFERS - 1) * 4096;
    let mut expected = Vec::new();
    for batch in 0..8 {
        for i in 0..BUFFERS {
            let idx = batch * BUFFERS + i;
            push_lent!(
                ring,
                Read::new(&file, &mut *chunks[idx])
                    .offset(off as u64)
                    .user_data(idx as u64)
            )
            .unwrap();
            expected.push(off);
            off = if off == 0 {
                (BUFFERS - 1) * 4096
            } else {
                off - 4096
            };
        }
        assert_eq!(ring.submit().unwrap() as usize, BUFFERS);
    }
    std::thread::sleep(Duration::from_secs(1));
    let got = wait_sorted(&mut ring, 8 * BUFFERS);
    assert_eq!(
        got,
        (0..(8 * BUFFERS) as u64)
            .map(|i| (i, 4096))
            .collect::<Vec<_>>()
    );
    for (chunk, off) in chunks.iter().zip(expected) {
        assert!(chunk[..] == bytes[off..off + 4096], "read at {off}");
    }
    drop(ring);
}
