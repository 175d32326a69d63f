//! `io_uring_register(2)` beyond files: the op probe, io-wq worker limits,
//! the registered ring fd, and eventfds.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use uring::ops::{Nop, Read, ReadV, Write};
use uring::{Error, Ring};
use uring_tests::{assert_user_data_once, kernel_version, parse_version, submit_and_reap};

uring::ops! {
    #![list(pub const MINE)]

    /// An opcode no kernel has (yet).
    #[since = "99.0"]
    pub unsafe struct Bogus = 250 {}
}

#[test]
fn probe_finds_the_basic_ops() {
    let ring = Ring::new(2).unwrap();
    let probe = ring.probe().expect("probe");
    assert!(probe.supports::<Nop>());
    assert!(probe.supports::<ReadV<'_, '_>>());
    assert!(probe.supports::<Write<'static>>());
    assert!(probe.is_supported(uring::sys::IORING_OP_NOP));
    probe.require::<Nop>().expect("require::<Nop>");
    probe.require::<Read<'static>>().expect("require::<Read>");
    assert!(!probe.is_supported(255), "opcode 255");
    assert!(
        probe.last_op() >= uring::sys::IORING_OP_PROVIDE_BUFFERS,
        "last_op {}",
        probe.last_op()
    );
}

/// Every op of the table that this kernel's version should have, it has;
/// `missing()` names exactly the ops the kernel says it lacks.
/// The ring-less query (6.18) agrees with what a ring reports: it knows
/// exactly the opcodes up to the probe's last, has every feature a new
/// ring has, and takes the setup flags that ring was made with.
#[test]
fn the_kernel_query_agrees_with_a_ring() {
    use uring::{Features, Query, SetupFlags};
    let query = match Query::kernel() {
        Ok(query) => query,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip(format_args!("no IORING_REGISTER_QUERY (6.18): {e}"));
            return;
        }
        Err(e) => panic!("query: {e}"),
    };
    let ring = Ring::builder().single_issuer().build(8).unwrap();
    let probe = ring.probe().unwrap();
    assert_eq!(query.opcodes(), u32::from(probe.last_op()) + 1, "{query:?}");
    assert!(query.knows::<Nop>() && query.knows::<Read<'_>>());
    assert!(query.has(ring.params().features()), "{query:?}");
    assert!(query.has(Features::NODROP | Features::EXT_ARG));
    assert!(query.takes_setup(ring.params().setup_flags()));
    assert!(query.takes_setup(SetupFlags::SQPOLL | SetupFlags::DEFER_TASKRUN));
    assert_ne!(query.sqe_flags() & u64::from(uring::sys::IOSQE_IO_LINK), 0);
    assert_ne!(
        query.enter_flags() & u64::from(uring::sys::IORING_ENTER_GETEVENTS),
        0
    );
    assert!(query.query_opcodes() >= 1);
    assert!(query.register_opcodes() > uring::sys::IORING_REGISTER_PROBE);
}

#[test]
fn probe_agrees_with_the_op_table() {
    let ring = Ring::new(2).unwrap();
    let probe = ring.probe().expect("probe");
    let kernel = kernel_version();
    assert!(!uring::ops::ALL.is_empty());
    for op in uring::ops::ALL {
        let since =
            parse_version(op.since).unwrap_or_else(|| panic!("{}: since {:?}", op.name, op.since));
        if since <= kernel {
            assert!(
                probe.is_supported(op.code),
                "{} (opcode {}, since {}) is missing on {kernel:?}",
                op.name,
                op.code,
                op.since
            );
        }
    }
    let missing: Vec<&str> = probe.missing().map(|op| op.name).collect();
    // An op is missing when the kernel lacks its opcode, or is older than
    // the op (a form that shares an opcode: GetSockName is a 6.19 command).
    let lacking: Vec<&str> = uring::ops::ALL
        .iter()
        .filter(|op| !probe.is_supported(op.code) || parse_version(op.since).unwrap() > kernel)
        .map(|op| op.name)
        .collect();
    assert_eq!(missing, lacking);
    let newer: Vec<&str> = uring::ops::ALL
        .iter()
        .filter(|op| parse_version(op.since).unwrap() > kernel)
        .map(|op| op.name)
        .collect();
    if kernel >= (5, 7) {
        assert_eq!(missing, newer, "ops this kernel lacks");
    }
}

/// An op declared outside the library with `ops!`: the probe names it as
/// missing, `require` says which, and the kernel fails it with EINVAL.
#[test]
fn probe_reports_an_op_declared_outside_the_library() {
    let mut ring = Ring::new(2).unwrap();
    let probe = ring.probe().unwrap();
    assert!(!probe.supports::<Bogus>());
    match probe.require::<Bogus>() {
        Err(Error::UnsupportedOp { name, code }) => assert_eq!((name, code), ("Bogus", 250)),
        other => panic!("require::<Bogus>: {other:?}"),
    }
    let missing: Vec<_> = probe.missing_from(MINE).map(|op| op.name).collect();
    assert_eq!(missing, ["Bogus"]);
    ring.push(Bogus::new().user_data(4)).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (4, -libc::EINVAL));
}

#[test]
fn iowq_max_workers_round_trip() {
    let mut ring = Ring::new(4).unwrap();
    // The worker pool exists once this thread has submitted.
    ring.push(Nop::new()).unwrap();
    submit_and_reap(&mut ring, 1);
    let before = ring.iowq_max_workers().expect("iowq_max_workers");
    assert!(before.bounded > 0 && before.unbounded > 0, "{before:?}");
    let limits = uring::IoWqWorkers {
        bounded: 2,
        unbounded: 3,
    };
    let previous = ring.set_iowq_max_workers(limits).expect("set");
    assert_eq!(previous, before, "set returns the limits in force before");
    assert_eq!(ring.iowq_max_workers().unwrap(), limits);
    // A zero leaves that limit alone.
    let previous = ring
        .set_iowq_max_workers(uring::IoWqWorkers {
            bounded: 0,
            unbounded: 5,
        })
        .unwrap();
    assert_eq!(previous, limits);
    assert_eq!(
        ring.iowq_max_workers().unwrap(),
        uring::IoWqWorkers {
            bounded: 2,
            unbounded: 5
        }
    );
    ring.set_iowq_max_workers(before).unwrap();
    assert_eq!(ring.iowq_max_workers().unwrap(), before);
}

#[test]
fn registered_ring_fd_submits_and_unregisters() {
    if !uring_tests::require_kernel(5, 18, "a registered ring fd") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.registered_ring_fd(), None);
    let index = ring.register_ring_fd().expect("register_ring_fd");
    assert_eq!(ring.registered_ring_fd(), Some(index));
    assert_eq!(ring.register_ring_fd().unwrap(), index, "registering twice");
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    let cqes = submit_and_reap(&mut ring, 4);
    assert_user_data_once(&cqes, 0..4);
    // A timed wait goes through the registered index too.
    let idle = ring.wait_timeout(1, std::time::Duration::from_millis(5));
    assert!(matches!(idle, Err(Error::TimedOut)), "{idle:?}");

    ring.unregister_ring_fd().expect("unregister_ring_fd");
    assert_eq!(ring.registered_ring_fd(), None);
    ring.unregister_ring_fd()
        .expect("unregistering twice is a no-op");
    for i in 10..14 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    let cqes = submit_and_reap(&mut ring, 4);
    assert_user_data_once(&cqes, 10..14);
}

/// The kernel keeps registered ring fds per thread, in a table of 16. A ring
/// that registered its fd and is dropped must give its slot back, or the
/// thread can register no more rings after 16 (and the dropped rings stay
/// alive in the kernel until the thread exits).
#[test]
fn dropping_a_ring_frees_its_registered_fd_slot() {
    if !uring_tests::require_kernel(5, 18, "a registered ring fd") {
        return;
    }
    let result = on_fresh_thread(|| -> Result<(), String> {
        for i in 0..40 {
            let mut ring = Ring::new(2).map_err(|e| format!("ring {i}: {e}"))?;
            ring.register_ring_fd()
                .map_err(|e| format!("ring {i}: register_ring_fd: {e}"))?;
            ring.push(Nop::new().user_data(i)).unwrap();
            ring.submit_and_wait(1)
                .map_err(|e| format!("ring {i}: submit_and_wait: {e}"))?;
            // Dropped here without unregistering.
        }
        Ok(())
    });
    result.unwrap();
}

/// Runs `f` on a new thread (with no ring fds registered yet) and returns
/// what it returns.
fn on_fresh_thread<T: std::marker::Send + 'static>(
    f: impl FnOnce() -> T + std::marker::Send + 'static,
) -> T {
    std::thread::spawn(f).join().unwrap()
}

/// Names the calling thread for failure messages: its `ThreadId` (never
/// reused), its `pthread_t` (glibc hands it to the next thread once this one
/// has exited) and its kernel tid.
fn this_thread() -> String {
    // SAFETY: pthread_self and gettid have no preconditions.
    let (pthread, tid) = unsafe { (libc::pthread_self(), libc::gettid()) };
    format!(
        "{:?}, pthread_t {pthread:#x}, tid {tid}",
        std::thread::current().id()
    )
}

/// `Ring` is `Send`, and registered ring fds are per thread: a ring whose fd
/// was registered on one thread must still submit when moved to another
/// (here: a thread started after the registering one ended).
#[test]
fn a_ring_with_a_registered_fd_works_on_another_thread() {
    if !uring_tests::require_kernel(5, 18, "a registered ring fd") {
        return;
    }
    let (ring, first) = on_fresh_thread(|| {
        let mut ring = Ring::new(4).unwrap();
        ring.register_ring_fd().unwrap();
        ring.push(Nop::new().user_data(1)).unwrap();
        submit_and_reap(&mut ring, 1);
        (ring, this_thread())
    });
    let (submitted, cqes, second) = on_fresh_thread(move || {
        let mut ring = ring;
        ring.push(Nop::new().user_data(2)).unwrap();
        let submitted = ring.submit_and_wait(1).map_err(|e| e.to_string());
        let cqes: Vec<_> = ring.completions().collect();
        (submitted, cqes, this_thread())
    });
    assert_eq!(
        submitted,
        Ok(1),
        "submit_and_wait on another thread (registered on {first}; used on {second})"
    );
    assert_eq!(cqes.len(), 1, "{cqes:?}");
    assert_eq!(cqes[0].user_data(), 2);
}

/// Worse than failing: when the other thread has registered a ring of its
/// own at the same index, the moved ring enters *that* ring, and its own SQE
/// is never consumed.
#[test]
fn a_moved_ring_does_not_enter_another_threads_ring() {
    if !uring_tests::require_kernel(5, 18, "a registered ring fd") {
        return;
    }
    let (a, index_a, first) = on_fresh_thread(|| {
        let mut a = Ring::new(4).unwrap();
        let index = a.register_ring_fd().unwrap();
        (a, index, this_thread())
    });
    let (index_b, submitted, pending_a, ready_a, second) = on_fresh_thread(move || {
        let mut a = a;
        let mut b = Ring::new(4).unwrap();
        let index_b = b.register_ring_fd().unwrap();
        a.push(Nop::new().user_data(7)).unwrap();
        let submitted = a.submit().map_err(|e| e.to_string());
        // A NOP is consumed and completed inside the enter.
        (index_b, submitted, a.pending(), a.ready(), this_thread())
    });
    assert_eq!(
        index_a, index_b,
        "precondition: both rings got the same index"
    );
    let threads = format!("registered on {first}; used on {second}");
    assert_eq!(submitted, Ok(1), "ring a's submit ({threads})");
    assert_eq!(pending_a, 0, "ring a's SQE was not consumed ({threads})");
    assert_eq!(ready_a, 1, "ring a's NOP did not complete ({threads})");
}

/// A non-blocking eventfd.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd(2) takes plain integers.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// The eventfd's count, reset by the read; the errno when there is none.
fn read_count(fd: &OwnedFd) -> Result<u64, i32> {
    let mut value = 0u64;
    // SAFETY: an eventfd read writes 8 bytes into `value`.
    let n = unsafe {
        libc::read(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            (&mut value as *mut u64).cast(),
            8,
        )
    };
    if n == 8 {
        Ok(value)
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

/// A registered eventfd counts completions; once unregistered it is quiet.
#[test]
fn eventfd_is_signalled_by_completions() {
    let mut ring = Ring::new(4).unwrap();
    let efd = eventfd();
    assert_eq!(read_count(&efd), Err(libc::EAGAIN));

    ring.register_eventfd(efd.as_fd(), false)
        .expect("register_eventfd");
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    submit_and_reap(&mut ring, 2);
    let count = read_count(&efd).expect("the eventfd was signalled");
    assert!((1..=2).contains(&count), "count {count}");

    ring.unregister_eventfd().expect("unregister_eventfd");
    ring.push(Nop::new().user_data(3)).unwrap();
    submit_and_reap(&mut ring, 1);
    assert_eq!(
        read_count(&efd),
        Err(libc::EAGAIN),
        "signalled after unregistering"
    );
}

/// The CQ ring's `IORING_CQ_EVENTFD_DISABLED` flag silences a registered
/// eventfd without unregistering it, and turning it back on restores the
/// signals; completions themselves are never held back.
#[test]
fn the_eventfd_is_turned_off_and_on_through_the_cq_flags() {
    let mut ring = Ring::new(4).unwrap();
    let efd = eventfd();
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    assert!(ring.cq_eventfd_enabled());

    ring.set_cq_eventfd(false).unwrap();
    assert!(!ring.cq_eventfd_enabled());
    // Idempotent: off twice is off.
    ring.set_cq_eventfd(false).unwrap();
    assert!(!ring.cq_eventfd_enabled());
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    submit_and_reap(&mut ring, 2);
    assert_eq!(
        read_count(&efd),
        Err(libc::EAGAIN),
        "signalled while turned off"
    );

    ring.set_cq_eventfd(true).unwrap();
    assert!(ring.cq_eventfd_enabled());
    ring.push(Nop::new().user_data(3)).unwrap();
    submit_and_reap(&mut ring, 1);
    assert_eq!(read_count(&efd), Ok(1), "one completion, one signal");
}

/// The same leak, seen from the kernel: an SQPOLL ring that registered its
/// fd and was dropped keeps its SQ thread running for as long as the thread
/// that registered it lives.
#[test]
fn dropping_an_sqpoll_ring_with_a_registered_fd_ends_its_sq_thread() {
    if !uring_tests::require_kernel(5, 18, "a registered ring fd") || !uring_tests::require_sqpoll()
    {
        return;
    }
    let gone = on_fresh_thread(|| {
        let mut ring = Ring::builder()
            .sqpoll(std::time::Duration::from_millis(50))
            .build(2)
            .unwrap();
        ring.push(Nop::new()).unwrap();
        ring.submit_and_wait(1).unwrap();
        let mut pid = -1;
        for _ in 0..100 {
            pid = uring_tests::sq_thread_info(&ring).0;
            if pid > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(pid > 0, "no SQ thread in fdinfo");
        let task = format!("/proc/self/task/{pid}");
        assert!(std::path::Path::new(&task).exists(), "{task}");
        ring.register_ring_fd().unwrap();
        drop(ring);
        // This thread lives on; the ring is gone from the program's view.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            if !std::path::Path::new(&task).exists() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    });
    assert!(gone, "the SQ thread of a dropped ring still runs 3 s later");
}

#[test]
fn iowq_affinity_set_and_cleared() {
    if !uring_tests::require_kernel(5, 14, "io-wq affinity") {
        return;
    }
    let mut ring = Ring::new(2).unwrap();
    ring.set_iowq_affinity(&[0])
        .expect("set_iowq_affinity(&[0])");
    ring.clear_iowq_affinity().expect("clear_iowq_affinity");
    assert!(matches!(
        ring.set_iowq_affinity(&[1 << 20]),
        Err(Error::InvalidArgument(_))
    ));
    // Still a working ring after the affinity changes.
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(submit_and_reap(&mut ring, 1)[0].user_data(), 1);
}

#[test]
fn buffers_register_and_unregister() {
    // Declared before the rings: they outlive every registration.
    let mut a = vec![0u8; 4096];
    let mut b = vec![0u8; 100];
    let mut c = vec![0u8; 64];
    let mut ring = Ring::new(2).unwrap();
    let mut other = Ring::new(2).unwrap();
    let slices = [
        std::io::IoSliceMut::new(&mut a),
        std::io::IoSliceMut::new(&mut b),
    ];
    // SAFETY: `a` and `b` outlive both rings (declared before them), and no
    // op uses them.
    let buffers = unsafe { ring.register_buffers(&slices) }.expect("register_buffers");
    assert_eq!(buffers.len(), 2);
    // SAFETY: as above.
    let again = unsafe { ring.register_buffers(&slices) };
    assert_eq!(
        again.as_ref().err().and_then(Error::raw_os_error),
        Some(libc::EBUSY),
        "a second registration: {:?}",
        again.map(|b| b.len())
    );
    ring.unregister_buffers(buffers)
        .expect("unregister_buffers");
    // SAFETY: as above.
    let buffers = unsafe { ring.register_buffers(&slices) }.expect("register again");
    ring.unregister_buffers(buffers).unwrap();

    // A handle only unregisters on its own ring.
    let one = [std::io::IoSliceMut::new(&mut c)];
    // SAFETY: `c` outlives `other` (declared before it).
    let theirs = unsafe { other.register_buffers(&one) }.unwrap();
    let theirs = match ring.unregister_buffers(theirs) {
        Err(uring::HandleError {
            error: Error::InvalidArgument(_),
            handle,
        }) => handle,
        other => panic!("expected the handle back: {other:?}"),
    };
    other
        .unregister_buffers(theirs)
        .expect("the owning ring unregisters them");
}

/// A sparse buffer table starts empty: a fixed read naming an empty slot
/// fails. Updating a slot with memory lets reads land in it; updating it
/// with `None` empties it again. Updates that overrun the table, tables of
/// no or too many slots, and another ring's table are refused.
#[test]
fn sparse_buffer_slots_are_filled_and_emptied_by_updates() {
    use std::io::{IoSliceMut, Write as _};
    use uring::ops::ReadFixed;
    if !uring_tests::require_kernel(5, 19, "sparse buffer tables (IORING_RSRC_REGISTER_SPARSE)") {
        return;
    }
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"fixed buffers, updated").unwrap();
    let mut memory = vec![0u8; 64];
    let mut ring = Ring::new(4).unwrap();
    let table = ring.register_buffers_sparse(4).unwrap();
    assert_eq!(table.len(), 4);
    let slot = table.get(1).unwrap();
    let read = |ring: &mut Ring, memory: &mut [u8]| {
        uring_tests::push_lent!(
            ring,
            ReadFixed::new(&file, &mut memory[..22], slot).user_data(7)
        )
        .unwrap();
        ring.submit_and_wait(1).unwrap();
        let cqe = ring.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 7);
        cqe.res()
    };
    assert_eq!(read(&mut ring, &mut memory), -libc::EFAULT, "an empty slot");

    let base = memory.as_mut_ptr();
    // SAFETY: `memory` outlives the ring's use of it: the slot is emptied
    // below, after the one read into it has completed, and nothing else
    // touches it meanwhile.
    let updated = unsafe {
        let whole = std::slice::from_raw_parts_mut(base, 64);
        ring.update_buffers(&table, 1, &[Some(IoSliceMut::new(whole))])
    };
    assert_eq!(updated.unwrap(), 1);
    assert_eq!(read(&mut ring, &mut memory), 22);
    assert_eq!(&memory[..22], b"fixed buffers, updated");

    // SAFETY: no memory is registered.
    let emptied = unsafe { ring.update_buffers(&table, 1, &[None]) };
    assert_eq!(emptied.unwrap(), 1);
    assert_eq!(read(&mut ring, &mut memory), -libc::EFAULT, "emptied again");

    // SAFETY: refused before the kernel sees any memory.
    let overrun = unsafe { ring.update_buffers(&table, 3, &[None, None]) };
    assert!(
        matches!(overrun, Err(Error::InvalidArgument(_))),
        "{overrun:?}"
    );
    assert!(matches!(
        ring.register_buffers_sparse(0),
        Err(Error::InvalidArgument(_))
    ));
    let mut other = Ring::new(4).unwrap();
    assert!(matches!(
        other.register_buffers_sparse(uring::sys::IORING_MAX_REG_BUFFERS + 1),
        Err(Error::InvalidArgument(_))
    ));
    // SAFETY: refused: the table is another ring's.
    let foreign = unsafe { other.update_buffers(&table, 0, &[None]) };
    assert!(
        matches!(foreign, Err(Error::InvalidArgument(_))),
        "{foreign:?}"
    );
    ring.unregister_buffers(table).unwrap();
}

/// A table registered slot by slot: files where `Some`, empty slots where
/// `None`. Writes through the filled slots reach their files, one through
/// the empty slot fails with `EBADF`, and once the empty slot is updated
/// with a file, writes through it reach that file.
#[test]
fn a_table_registered_slot_by_slot_has_its_empty_slots() {
    let (rx_a, tx_a) = uring_tests::pipe();
    let (rx_b, tx_b) = uring_tests::pipe();
    let (rx_c, tx_c) = uring_tests::pipe();
    let mut ring = Ring::new(8).unwrap();
    let mut files = ring
        .register_file_slots(&[Some(tx_a.as_fd()), None, Some(tx_b.as_fd())])
        .unwrap();
    assert_eq!(files.len(), 3);
    drop((tx_a, tx_b));
    let mut got = Vec::new();
    for (slot, byte) in [(0u32, b"a"), (1, b"x"), (2, b"b")] {
        let op = Write::new(files.get(slot).unwrap(), byte).user_data(u64::from(slot));
        let cqe = uring_tests::complete(&mut ring, op);
        got.push((cqe.user_data(), cqe.res()));
    }
    assert_eq!(got, [(0, 1), (1, -libc::EBADF), (2, 1)]);
    let mut byte = [0u8; 1];
    for (rx, want) in [(&rx_a, b'a'), (&rx_b, b'b')] {
        assert_eq!(rustix_read(rx, &mut byte), 1);
        assert_eq!(byte[0], want);
    }
    assert_eq!(
        ring.update_files(&mut files, 1, &[Some(tx_c.as_fd())])
            .unwrap(),
        1
    );
    drop(tx_c);
    let cqe = uring_tests::complete(
        &mut ring,
        Write::new(files.get(1).unwrap(), b"c").user_data(9),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (9, 1));
    assert_eq!(rustix_read(&rx_c, &mut byte), 1);
    assert_eq!(byte[0], b'c');
}

/// `read(2)` of `fd` into `buf`.
fn rustix_read(fd: &OwnedFd, buf: &mut [u8]) -> isize {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for writes of its length; `fd` is open.
    unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) }
}
