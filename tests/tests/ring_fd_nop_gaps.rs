//! Two things liburing's users reach for: closing a ring's descriptor once
//! it is registered (`io_uring_close_ring_fd`), after which the ring is
//! named by its registered index alone, as a `registered_fd_only` ring is;
//! and NOPs that look up a file, a registered file or a registered buffer,
//! or complete through task work (liburing's test/nop-flags.c and
//! test/nop-fixed-file-leak.c).

use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{MsgRing, Nop, NopFile, Read};
use uring::{Error, Features, Ring};
use uring_tests::{PATIENCE, bad_fd, pipe, require_kernel, skip};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// A ring of `entries` with its descriptor registered, on a kernel that
/// takes register calls through the index (`IORING_FEAT_REG_REG_RING`,
/// 6.3); `None` with a skip message otherwise.
fn registered(builder: uring::Builder<'_>, entries: u32) -> Option<Ring> {
    let mut ring = builder.build(entries).expect("a ring");
    if !uring_tests::require_features(&ring, Features::REG_REG_RING, "close_ring_fd") {
        return None;
    }
    ring.register_ring_fd().expect("register_ring_fd");
    Some(ring)
}

/// One NOP through the ring, which completes with 0.
fn nop_round_trip(ring: &mut Ring, user_data: u64) {
    ring.push(Nop::new().user_data(user_data)).unwrap();
    let cqe = uring_tests::reap_one(ring);
    assert_eq!((cqe.user_data(), cqe.res()), (user_data, 0));
}

/// What `/proc/self/fd/{fd}` links to; `None` when `fd` is not open.
fn fd_target(fd: RawFd) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Whether `/proc/self/fdinfo/{fd}` lists `user_data` among the SQEs and
/// completions of a ring; `false` when `fd` is not open or names no ring.
fn fdinfo_lists(fd: RawFd, user_data: u64) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
        return false;
    };
    text.lines().any(|line| {
        line.split("user_data:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok())
            == Some(user_data)
    })
}

/// Writes one byte into the pipe `tx` until the kernel answers `EPIPE`:
/// the last reference to its read end is gone. Panics if that does not
/// happen within [`PATIENCE`].
fn wait_for_epipe(tx: &OwnedFd, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        // SAFETY: one byte from a live local, on a descriptor we own.
        let rc = unsafe { libc::write(tx.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        if rc == -1 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "{what}: {e}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the read end is still held"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether the pipe `tx` still has a reader: one byte goes in.
fn has_reader(tx: &OwnedFd) -> bool {
    // SAFETY: one byte from a live local, on a descriptor we own.
    let rc = unsafe { libc::write(tx.as_raw_fd(), b"y".as_ptr().cast(), 1) };
    rc == 1
}

fn is_invalid_argument(result: &uring::Result<()>) -> bool {
    matches!(result, Err(Error::InvalidArgument(_)))
}

// ---------------------------------------------------------------------------
// close_ring_fd: the ring goes on by its index.
// ---------------------------------------------------------------------------

/// After `close_ring_fd` (with and without an SQ thread): the descriptor
/// is gone from the process (the number is closed, or names another file
/// than this ring, whose waiting completion `/proc/self/fdinfo` no longer
/// shows under it), `as_raw_fd` is -1, the completion waiting from before
/// is still there to reap, NOPs go round, register calls work through the
/// index (a file registered and a NOP on it, a probe), and the index
/// cannot be unregistered (it is the ring's only name).
#[test]
fn a_ring_whose_descriptor_is_closed_runs_through_its_index() {
    let _watch = uring_tests::watchdog();
    for sqpoll in [false, true] {
        let mut builder = Ring::builder();
        if sqpoll {
            if !uring_tests::require_sqpoll() {
                continue;
            }
            builder = builder.sqpoll(Duration::from_millis(50));
        }
        let Some(mut ring) = registered(builder, 8) else {
            return;
        };
        let case = format!("sqpoll {sqpoll}");
        let index = ring.registered_ring_fd().unwrap();
        let fd = ring.as_raw_fd();
        assert!(fd >= 0, "{case}");
        let waiting = 0x00c1_05ed_0000_0000 | u64::from(sqpoll);
        ring.push(Nop::new().user_data(waiting)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert!(fdinfo_lists(fd, waiting), "{case}: fdinfo shows the ring");
        assert_eq!(
            fd_target(fd).as_deref(),
            Some("anon_inode:[io_uring]"),
            "{case}"
        );

        ring.close_ring_fd().unwrap();
        assert_eq!(ring.as_raw_fd(), -1, "{case}");
        assert_eq!(ring.registered_ring_fd(), Some(index), "{case}");
        assert!(
            !fdinfo_lists(fd, waiting),
            "{case}: descriptor {fd} still names the ring ({:?})",
            fd_target(fd)
        );
        if let Some(target) = fd_target(fd) {
            // Another test's file took the number; it is not this ring.
            eprintln!("{case}: descriptor {fd} now names {target}");
        }

        let cqe = uring_tests::reap_one(&mut ring);
        assert_eq!((cqe.user_data(), cqe.res()), (waiting, 0), "{case}");
        for ud in 1..=20 {
            nop_round_trip(&mut ring, ud);
        }

        let null = File::open("/dev/null").unwrap();
        let files = ring.register_files(&[null.as_fd()]).unwrap();
        if require_kernel(6, 13, "NOPs that look up a file") {
            let cqe =
                uring_tests::complete(&mut ring, NopFile::new(files.get(0).unwrap()).user_data(30));
            assert_eq!((cqe.user_data(), cqe.res()), (30, 0), "{case}");
        }
        assert!(ring.probe().unwrap().supports::<Nop>(), "{case}");
        ring.unregister_files(files).unwrap();

        assert_eq!(ring.register_ring_fd().unwrap(), index, "{case}");
        assert!(
            is_invalid_argument(&ring.unregister_ring_fd()),
            "{case}: the index is the ring's only name"
        );
        nop_round_trip(&mut ring, 40);
        ring.close().unwrap();
    }
}

/// The three misuses fail with an error and change nothing: closing a
/// descriptor that is not registered, closing from a thread that did not
/// register it, and closing twice; a `registered_fd_only` ring has nothing
/// to close either.
#[test]
fn closing_the_ring_fd_wrongly_is_an_error() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !uring_tests::require_features(&ring, Features::REG_REG_RING, "close_ring_fd") {
        return;
    }
    let fd = ring.as_raw_fd();
    assert!(is_invalid_argument(&ring.close_ring_fd()), "not registered");
    assert_eq!(ring.as_raw_fd(), fd);
    assert!(uring_tests::fd_is_open(fd));
    nop_round_trip(&mut ring, 1);

    let index = ring.register_ring_fd().unwrap();
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        let refused = ring.close_ring_fd();
        assert!(is_invalid_argument(&refused), "another thread: {refused:?}");
        assert_eq!(ring.as_raw_fd(), fd);
        // Enters from here use the descriptor, still open.
        nop_round_trip(&mut ring, 2);
        ring
    })
    .join()
    .unwrap();
    assert!(uring_tests::fd_is_open(fd));
    assert_eq!(ring.registered_ring_fd(), Some(index));

    ring.close_ring_fd().unwrap();
    assert!(is_invalid_argument(&ring.close_ring_fd()), "closed already");
    assert_eq!(ring.registered_ring_fd(), Some(index));
    nop_round_trip(&mut ring, 3);

    if require_kernel(6, 5, "rings without a descriptor (REGISTERED_FD_ONLY)") {
        let mut bare = Ring::builder().registered_fd_only().build(4).unwrap();
        assert!(is_invalid_argument(&bare.close_ring_fd()), "no descriptor");
        nop_round_trip(&mut bare, 4);
    }
}

/// Dropping a ring whose descriptor is closed, on the thread that
/// registered it, releases the index and with it the kernel's ring: a
/// pipe's read end that only the ring's file table held is released (the
/// writer gets `EPIPE`), and twenty such rings in a row fit the thread's
/// table of sixteen registered rings.
#[test]
fn a_ring_whose_descriptor_is_closed_tears_down_on_drop() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = registered(Ring::builder(), 4) else {
        return;
    };
    let (rx, tx) = pipe();
    let _table = ring.register_files(&[rx.as_fd()]).unwrap();
    drop(rx);
    ring.close_ring_fd().unwrap();
    nop_round_trip(&mut ring, 1);
    assert!(has_reader(&tx), "the ring's table holds the read end");
    drop(ring);
    wait_for_epipe(&tx, "after the drop");

    for round in 0..20 {
        let mut ring = Ring::new(2).unwrap();
        ring.register_ring_fd()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        ring.close_ring_fd().unwrap();
        nop_round_trip(&mut ring, round);
    }
}

/// A ring whose descriptor is closed, moved to another thread than the one
/// that registered it, is there as a `registered_fd_only` ring is: its
/// enters fail (`EBADF`), so its scopes take no op
/// (`PushErrorKind::OtherThread`), and nothing writes into the buffer a
/// read would have borrowed; dropped
/// there, it returns at once. The kernel's ring lives on in the
/// registering thread's table until that thread exits, and goes then (the
/// read end of a pipe its file table held is released).
#[test]
fn a_ring_whose_descriptor_is_closed_dropped_on_another_thread() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let (mut writer, reader) = UnixStream::pair().unwrap();
    let probe = tx.try_clone().unwrap();
    let registering = std::thread::spawn(move || {
        let mut ring = registered(Ring::builder(), 8)?;
        let _table = ring.register_files(&[rx.as_fd()]).unwrap();
        drop(rx);
        ring.close_ring_fd().unwrap();
        nop_round_trip(&mut ring, 1);
        let (buf, submitted, in_flight) = std::thread::spawn(move || {
            let mut ring = ring;
            let mut buf = vec![0xa5u8; 16];
            let (submitted, in_flight) = ring.scope(|s| {
                let pushed = s
                    .push(Read::new(&reader, &mut buf[..]).user_data(2))
                    .map(|_| ())
                    .map_err(|e| e.kind());
                assert_eq!(pushed, Err(uring::PushErrorKind::OtherThread));
                let submitted = s.submit().map_err(|e| e.raw_os_error());
                (submitted, s.in_flight())
            });
            drop(ring);
            (buf, submitted, in_flight)
        })
        .join()
        .expect("no panic on the other thread");
        // Dropped elsewhere, the ring lives on in this thread's table.
        assert!(has_reader(&probe), "the ring's table holds the read end");
        Some((buf, submitted, in_flight))
    });
    let Some((buf, submitted, in_flight)) = registering.join().unwrap() else {
        return;
    };
    assert_eq!(submitted, Ok(0), "nothing to submit");
    assert_eq!(in_flight, 0, "the read was refused");
    uring_tests::assert_nothing_writes_after(&mut [&mut writer], &[&buf[..]], 0xa5);
    wait_for_epipe(&tx, "after the registering thread exited");
}

/// What needs the ring's descriptor fails once it is closed, as on a
/// `registered_fd_only` ring: a message from another ring, a completion
/// posted from no ring and a buffer ring with `EBADF`, sharing the worker
/// pool with `ENXIO`; a reactor runs on it, and cannot be handed to tokio
/// (`EBADF`).
/// Resizing a ring whose queues the kernel allocated (mapped from the
/// descriptor) is refused with `EBADF` before the kernel resizes anything,
/// and the ring goes on; one whose queues are in its own memory
/// (`no_mmap`) resizes.
#[test]
fn what_needs_the_descriptor_fails_as_on_a_ring_without_one() {
    let _watch = uring_tests::watchdog();
    let Some(mut closed) = registered(Ring::builder(), 8) else {
        return;
    };
    closed.close_ring_fd().unwrap();
    let mut rings = vec![("closed", closed)];
    if require_kernel(6, 5, "rings without a descriptor (REGISTERED_FD_ONLY)") {
        let bare = Ring::builder().registered_fd_only().build(8).unwrap();
        rings.push(("registered_fd_only", bare));
    }
    let mut other = Ring::new(8).unwrap();
    for (name, ring) in &mut rings {
        let cqe = uring_tests::complete(&mut other, MsgRing::new(&*ring, 5, 6).user_data(1));
        assert_eq!(cqe.res(), -libc::EBADF, "{name}: MsgRing");
        if require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
            let posted = ring.post(5, 6);
            assert_eq!(
                posted.unwrap_err().raw_os_error(),
                Some(libc::EBADF),
                "{name}: post"
            );
        }
        let pool = ring.register_buf_ring(uring::BufferGroup::new(1), 2, 16);
        assert_eq!(
            pool.map(drop).unwrap_err().raw_os_error(),
            Some(libc::EBADF),
            "{name}: buffer ring"
        );
        // The kernel answers a `wq_fd` that names no ring with ENXIO.
        let attached = Ring::builder().attach_wq(ring).build(4);
        assert_eq!(
            attached.map(drop).unwrap_err().raw_os_error(),
            Some(libc::ENXIO),
            "{name}: attach_wq"
        );
        nop_round_trip(ring, 2);
    }
    // The reactor runs on the ring by its index, on this thread; tokio has
    // no descriptor to watch (`EBADF` from its epoll).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let guard = runtime.enter();
    for (name, ring) in rings {
        let reactor = uring::reactor::Reactor::from_ring(ring).unwrap();
        uring_tests::run_for(&reactor, 1);
        let driver = reactor.into_tokio().map(drop);
        assert_eq!(
            driver.unwrap_err().raw_os_error(),
            Some(libc::EBADF),
            "{name}: into_tokio"
        );
    }
    drop(guard);

    if !require_kernel(6, 13, "resizing a ring") {
        return;
    }
    for no_mmap in [false, true] {
        let mut builder = Ring::builder().single_issuer().defer_taskrun();
        if no_mmap {
            builder = builder.no_mmap();
        }
        let Some(mut ring) = registered(builder, 8) else {
            return;
        };
        ring.close_ring_fd().unwrap();
        ring.push(Nop::new().user_data(3)).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        let resized = ring.resize(16, 32);
        if no_mmap {
            resized.unwrap();
            assert_eq!((ring.sq_entries(), ring.cq_entries()), (16, 32));
        } else {
            assert_eq!(resized.unwrap_err().raw_os_error(), Some(libc::EBADF));
            assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 16));
        }
        ring.wait_timeout(1, PATIENCE).unwrap();
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(got, [(3, 0)], "no_mmap {no_mmap}");
        nop_round_trip(&mut ring, 4);
    }
}

// ---------------------------------------------------------------------------
// NOPs that look up a file or a buffer.
// ---------------------------------------------------------------------------

/// Whether the kernel has NOPs that look up files and buffers (6.13);
/// `false` with a skip message.
fn require_nop_file() -> bool {
    require_kernel(6, 13, "IORING_NOP_FILE / IORING_NOP_FIXED_BUFFER")
}

/// nop-flags.c `test_nop_file` and `test_nop_file_bad_fd`: a NOP on an
/// open descriptor completes with 0 (or the result injected); on -1, and
/// on a number just closed, with `-EBADF`, which also cancels what is
/// linked after it.
#[test]
fn a_nop_on_a_descriptor_looks_it_up() {
    let mut ring = Ring::new(8).unwrap();
    if !require_nop_file() {
        return;
    }
    let null = File::open("/dev/null").unwrap();
    let cqe = uring_tests::complete(&mut ring, NopFile::new(&null).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    let cqe = uring_tests::complete(&mut ring, NopFile::new(&null).result(42).user_data(2));
    assert_eq!((cqe.user_data(), cqe.res()), (2, 42));

    let cqe = uring_tests::complete(&mut ring, NopFile::new(bad_fd()).user_data(3));
    assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::EBADF));

    // A number high above what the process has open, opened and closed:
    // no file is there when the NOP looks.
    // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one,
    // owned here and closed right away.
    let high = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 900) };
    assert!(high >= 900, "{}", std::io::Error::last_os_error());
    // SAFETY: `high` was just returned to us and is owned by no one else.
    drop(unsafe { OwnedFd::from_raw_fd(high) });
    // SAFETY: the number names no open file; whatever another thread opens
    // there meanwhile, a NOP only takes and drops a reference to it.
    let closed = unsafe { uring::Fd::borrow_raw(high) };
    let cqe = uring_tests::complete(&mut ring, NopFile::new(closed).user_data(4));
    assert_eq!((cqe.user_data(), cqe.res()), (4, -libc::EBADF));

    let chain = NopFile::new(bad_fd())
        .user_data(5)
        .link(Nop::new().user_data(6));
    // The chain borrows nothing that can go away: its target is -1.
    uring_tests::push_lent!(ring, chain).unwrap();
    assert_eq!(
        uring_tests::reap_sorted(&mut ring, 2),
        [(5, -libc::EBADF), (6, -libc::ECANCELED)]
    );
}

/// nop-fixed-file-leak.c: a NOP on a descriptor takes a reference to the
/// file and drops it again (the typed op never sets `IOSQE_FIXED_FILE`
/// without `IORING_NOP_FIXED_FILE`, which on some kernels kept the
/// reference): once the program closes a pipe's read end, its writer gets
/// `EPIPE`.
#[test]
fn a_nop_on_a_descriptor_keeps_no_reference() {
    let mut ring = Ring::new(8).unwrap();
    if !require_nop_file() {
        return;
    }
    let (rx, tx) = pipe();
    let cqe = uring_tests::complete(&mut ring, NopFile::new(&rx).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    let cqe = uring_tests::complete(&mut ring, NopFile::new(&rx).task_work(true).user_data(2));
    assert_eq!((cqe.user_data(), cqe.res()), (2, 0));
    drop(rx);
    wait_for_epipe(&tx, "after the read end was closed");
}

/// nop-flags.c `test_nop_fixed_file`: a NOP on a registered file completes
/// with 0; on an empty slot of the table, with `-EBADF`.
#[test]
fn a_nop_on_a_fixed_file_looks_up_its_slot() {
    let mut ring = Ring::new(8).unwrap();
    if !require_nop_file() {
        return;
    }
    let null = File::open("/dev/null").unwrap();
    let mut files = ring.register_files_sparse(4).unwrap();
    assert_eq!(
        ring.update_files(&mut files, 2, &[Some(null.as_fd())])
            .unwrap(),
        1
    );
    let cqe = uring_tests::complete(&mut ring, NopFile::new(files.get(2).unwrap()).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    let cqe = uring_tests::complete(&mut ring, NopFile::new(files.get(1).unwrap()).user_data(2));
    assert_eq!((cqe.user_data(), cqe.res()), (2, -libc::EBADF));
    let cqe = uring_tests::complete(
        &mut ring,
        NopFile::new(files.get(2).unwrap()).result(7).user_data(3),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (3, 7));
}

/// nop-flags.c `test_nop_fixed_buffer`: a NOP that names a registered
/// buffer completes with 0; one that names an empty slot of a sparse
/// table, or an index of a ring with no table, with `-EFAULT`. The buffer's
/// memory is not touched.
#[test]
fn a_nop_on_a_fixed_buffer_looks_up_its_slot() {
    let mut region = [0x5au8; 4096];
    let mut ring = Ring::new(8).unwrap();
    if !require_nop_file() {
        return;
    }
    // SAFETY: `region` is declared before the ring, so it outlives the
    // registration; no op reads or writes it.
    let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut region[..])]) }.unwrap();
    let buf = bufs.get(0).unwrap();
    let cqe = uring_tests::complete(&mut ring, Nop::new().buffer(buf).user_data(1));
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    let cqe = uring_tests::complete(&mut ring, Nop::new().buffer(buf).result(9).user_data(2));
    assert_eq!((cqe.user_data(), cqe.res()), (2, 9));

    let mut sparse = Ring::new(8).unwrap();
    let holes = sparse.register_buffers_sparse(2).unwrap();
    let cqe = uring_tests::complete(
        &mut sparse,
        Nop::new().buffer(holes.get(1).unwrap()).user_data(3),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::EFAULT));

    let mut bare = Ring::new(8).unwrap();
    let cqe = uring_tests::complete(&mut bare, Nop::new().buffer(buf).user_data(4));
    assert_eq!((cqe.user_data(), cqe.res()), (4, -libc::EFAULT));
    drop(bare);
    drop(sparse);
    drop(ring);
    assert!(region.iter().all(|&b| b == 0x5a));
}

/// nop-flags.c `test_nop_tw`, `test_nop_tw_inject` and `test_nop_combined`:
/// eight NOPs completing through task work each complete with 0; one with
/// a result injected with it; a NOP on a registered file that names a
/// registered buffer, through task work, with 0.
#[test]
fn nops_complete_through_task_work() {
    let mut region = [0u8; 64];
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 17, "IORING_NOP_TW") {
        return;
    }
    for ud in 1..=8 {
        ring.push(Nop::new().task_work(true).user_data(ud)).unwrap();
    }
    let want: Vec<(u64, i32)> = (1..=8).map(|ud| (ud, 0)).collect();
    assert_eq!(uring_tests::reap_sorted(&mut ring, 8), want);
    ring.push(Nop::new().task_work(true).result(42).user_data(9))
        .unwrap();
    assert_eq!(uring_tests::reap_sorted(&mut ring, 1), [(9, 42)]);

    let null = File::open("/dev/null").unwrap();
    let files = ring.register_files(&[null.as_fd()]).unwrap();
    // SAFETY: `region` is declared before the ring, so it outlives the
    // registration; no op reads or writes it.
    let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut region[..])]) }.unwrap();
    let op = NopFile::new(files.get(0).unwrap())
        .buffer(bufs.get(0).unwrap())
        .task_work(true)
        .user_data(10);
    let cqe = uring_tests::complete(&mut ring, op);
    assert_eq!((cqe.user_data(), cqe.res()), (10, 0));
}

/// A NOP on a file posts a 32-byte CQE's words as a plain one does
/// (`IORING_NOP_CQE32`, 6.18), the lookup's failure aside.
#[test]
fn a_nop_on_a_file_posts_a_big_cqe() {
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    let mut ring = match Ring::builder().build_sized::<uring::Sqe64, uring::Cqe32>(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no 32-byte CQEs: {e}")),
    };
    let null = File::open("/dev/null").unwrap();
    let op = NopFile::new(&null)
        .big_cqe([0xdead_beef_1234_5678, 0xabcd_ef00_1122_3344])
        .user_data(1);
    // SAFETY: the NOP borrows `null`, which outlives the wait below.
    unsafe { ring.push_unchecked(op) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
    assert_eq!(
        cqe.as_raw().big_cqe,
        [0xdead_beef_1234_5678, 0xabcd_ef00_1122_3344]
    );
}
