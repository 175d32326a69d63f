//! Ports of liburing's tests of ring setup and registration (the `test/`
//! directory of github.com/axboe/liburing) to uring's API: the errors of
//! `io_uring_setup(2)` and `io_uring_register(2)`, registered ring
//! descriptors, resizes of rings with big entries, registered buffers,
//! eventfd toggling, SQ threads shared and asleep, a ring across a fork and
//! across thread exits, mixed-size CQEs, io-wq affinity and the ring query
//! interface. Each test names its C file and asserts what the C test
//! asserts of the kernel (results, errnos, order, counts, flags). Where the
//! C test reaches the kernel in a way uring refuses on purpose, the comment
//! says so and the port keeps what uring can express, asserting the
//! refusal; what uring cannot express at all is made with direct system
//! calls (`uring::sys`), and said.

use std::ffi::CString;
use std::io::{IoSliceMut, Write as _};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use uring::ops::{Nop, PollAdd, Read, ReadFixed, ReadV, Socket, Write};
use uring::{
    BigCqe, Builder, Cqe, Cqe32, CqeMixed, DirectSlot, Features, IoWqWorkers, PollEvents, Ring,
    Sqe64, Sqe128, SqeFlags, sys,
};
use uring_tests::{PATIENCE, pairs, pipe, push_lent, require_features, skip, stray};

// ---------------------------------------------------------------- helpers

/// Waits, submitting nothing, until `n` completions have arrived on a ring
/// of 16-byte CQEs, and returns them as `(user_data, res)` in the order
/// the CQ delivered them.
fn wait_pairs(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    while got.len() < n {
        ring.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got
}

/// Whether a ring error came from the kernel (a failed system call) rather
/// than from uring's own checks.
fn from_kernel(e: &uring::Error) -> bool {
    matches!(e, uring::Error::Os { .. })
}

/// The calling thread's errno.
fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

/// `io_uring_setup(entries, params)`, made directly: the new descriptor,
/// or the errno.
///
/// # Safety
///
/// `params` is null or points to a valid, writable `io_uring_params` whose
/// flags do not ask the kernel to use memory of the caller's
/// (`IORING_SETUP_NO_MMAP`) unless the kernel refuses them first.
unsafe fn raw_setup(entries: u32, params: *mut sys::io_uring_params) -> Result<OwnedFd, i32> {
    // SAFETY: the caller's contract.
    match unsafe { sys::io_uring_setup(entries, params) } {
        // SAFETY: the kernel just returned this descriptor, owned by no one
        // else.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(e) => Err(e.raw_os_error().unwrap()),
    }
}

/// `io_uring_register(fd, opcode, arg, nr)`, made directly: its result, or
/// the errno.
///
/// # Safety
///
/// As for `sys::io_uring_register`: `arg` is what `opcode` reads, alive for
/// the call, and memory it registers stays valid while registered.
unsafe fn raw_register(
    fd: RawFd,
    opcode: u32,
    arg: *const libc::c_void,
    nr: u32,
) -> Result<u32, i32> {
    // SAFETY: the caller's contract.
    unsafe { sys::io_uring_register(fd, opcode, arg, nr) }.map_err(|e| e.raw_os_error().unwrap())
}

/// A close-on-exec duplicate of the descriptor `fd`.
fn dup(fd: RawFd) -> OwnedFd {
    // SAFETY: F_DUPFD_CLOEXEC takes a number and returns a new descriptor.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    assert!(new >= 0, "dup: {}", std::io::Error::last_os_error());
    // SAFETY: just made, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(new) }
}

/// A new eventfd, close-on-exec, blocking.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd takes plain integers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `len` bytes of `backing` from its first 4 KiB boundary on (for
/// `O_DIRECT`); `backing` is at least `len + 4096` long.
fn aligned(backing: &mut [u8], len: usize) -> &mut [u8] {
    let skip = backing.as_ptr().align_offset(4096);
    &mut backing[skip..skip + len]
}

/// The CPUs in the affinity mask of the thread `tid`.
fn affinity(tid: i32) -> Vec<usize> {
    // SAFETY: all-zero bytes are an empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable `cpu_set_t` of the size given.
    let rc = unsafe { libc::sched_getaffinity(tid, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(
        rc,
        0,
        "sched_getaffinity({tid}): {}",
        std::io::Error::last_os_error()
    );
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// The thread ids of this process whose name (`comm`) is `name`.
fn threads_named(name: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let entry = entry.unwrap();
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        if comm.trim_end() == name {
            found.push(entry.file_name().to_str().unwrap().parse().unwrap());
        }
    }
    found
}

/// The calling thread's id.
fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// The thread id of `ring`'s SQ thread, from its fdinfo, once the thread
/// has started: until then the kernel shows the creating task's id there.
fn sq_thread(ring: &Ring) -> i32 {
    let start = Instant::now();
    loop {
        let pid = uring_tests::sq_thread_info(ring).0 as i32;
        if pid > 0 && pid != gettid() {
            return pid;
        }
        assert!(start.elapsed() < PATIENCE, "the SQ thread never started");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------- io_uring_setup.c

/// liburing test/io_uring_setup.c: the kernel refuses a ring of 0 entries (`EINVAL`),
/// parameters at a NULL address (`EFAULT`), non-zero reserved words
/// (`EINVAL`), unknown flags (`EINVAL`), `SQ_AFF` without `SQPOLL`
/// (`EINVAL`) and an SQ thread bound to a CPU past the last configured one
/// (`EINVAL`). uring's builder refuses the 0 entries and the lone `SQ_AFF`
/// itself, before the kernel, with the same errno, and hands the bad CPU to
/// the kernel; it cannot express the others (its parameters are its own,
/// their reserved words zero, its flags typed), which are made directly.
#[test]
fn io_uring_setup_rejects_bad_parameters() {
    let e = Ring::new(0).unwrap_err();
    assert!(matches!(e, uring::Error::Setup(_)), "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let mut p = sys::io_uring_params::default();
    // SAFETY: a valid, zeroed `io_uring_params`.
    assert_eq!(unsafe { raw_setup(0, &mut p) }.err(), Some(libc::EINVAL));

    // SAFETY: a NULL address, which the kernel answers with EFAULT.
    let null = unsafe { raw_setup(1, std::ptr::null_mut()) };
    assert_eq!(null.err(), Some(libc::EFAULT));

    let mut p = sys::io_uring_params {
        resv: [1, 1, 1],
        ..Default::default()
    };
    // SAFETY: a valid `io_uring_params`.
    assert_eq!(unsafe { raw_setup(1, &mut p) }.err(), Some(libc::EINVAL));

    let mut p = sys::io_uring_params {
        flags: !0,
        ..Default::default()
    };
    // SAFETY: a valid `io_uring_params`; the kernel refuses the unknown
    // flags before it looks at any address.
    assert_eq!(unsafe { raw_setup(1, &mut p) }.err(), Some(libc::EINVAL));

    let e = Ring::builder().sq_thread_cpu(0).build(1).unwrap_err();
    assert!(matches!(e, uring::Error::Setup(_)), "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let mut p = sys::io_uring_params {
        flags: sys::IORING_SETUP_SQ_AFF,
        ..Default::default()
    };
    // SAFETY: a valid `io_uring_params`.
    assert_eq!(unsafe { raw_setup(1, &mut p) }.err(), Some(libc::EINVAL));

    if !uring_tests::require_sqpoll() {
        return;
    }
    // SAFETY: sysconf takes a constant.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    assert!(cpus > 0);
    let e = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(cpus as u32)
        .build(1)
        .unwrap_err();
    assert!(from_kernel(&e), "the kernel refuses the CPU: {e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
}

/// liburing test/io_uring_setup.c: a `read(2)` of a ring's descriptor fails: the kernel's
/// io_uring file has no read (`EINVAL`).
#[test]
fn io_uring_setup_a_rings_descriptor_cannot_be_read() {
    let ring = Ring::new(1).unwrap();
    let mut buf = [0u8; 4096];
    // SAFETY: reads at most 4096 bytes into a live buffer of that size; the
    // ring's descriptor stays open for the call.
    let n = unsafe { libc::read(ring.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(n, -1, "a read of a ring succeeded");
    assert_eq!(last_errno(), libc::EINVAL);
}

// ---------------------------------------------------------------- io_uring_register.c

/// liburing test/io_uring_register.c: a register call on a descriptor that is not open
/// fails with `EBADF`, on one that is not a ring (`/dev/null`) with
/// `EOPNOTSUPP`, and with an unknown opcode (`~0`) with `EINVAL`. The C
/// test's bad descriptor is -1, which it expects to be `EBADF` but accepts
/// failing with any errno: since Linux 6.13 -1 names no ring on purpose
/// (the "blind" register calls, `IORING_REGISTER_SEND_MSG_RING`), and a
/// register call there with an opcode that needs a ring is `EINVAL`; a
/// descriptor number that is not open stands for the bad one. uring makes
/// register calls only on its own rings, with the opcodes of its methods:
/// these are made directly.
#[test]
fn io_uring_register_refuses_bad_descriptors_and_opcodes() {
    // SAFETY: opcode 0 with no argument: the kernel refuses the descriptor
    // (a number no process opens) before it reads anything.
    let bad = unsafe { raw_register(i32::MAX, 0, std::ptr::null(), 0) };
    assert_eq!(bad, Err(libc::EBADF));
    // SAFETY: as above; -1 is never a descriptor.
    let minus_one = unsafe { raw_register(-1, 0, std::ptr::null(), 0) };
    let expect = if uring_tests::kernel_version() >= (6, 13) {
        libc::EINVAL
    } else {
        libc::EBADF
    };
    assert_eq!(minus_one, Err(expect));
    let null = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: as above.
    let not_a_ring = unsafe { raw_register(null.as_raw_fd(), 0, std::ptr::null(), 0) };
    assert_eq!(not_a_ring, Err(libc::EOPNOTSUPP));
    let ring = Ring::new(1).unwrap();
    // SAFETY: an opcode the kernel does not know reads no argument.
    let unknown = unsafe { raw_register(ring.as_raw_fd(), !0, std::ptr::null(), 0) };
    assert_eq!(unknown, Err(libc::EINVAL));
}

/// liburing test/io_uring_register.c `test_iovec_size`: buffers the kernel cannot pin
/// fail with `EFAULT`: an iovec with a NULL base and a length, one with a
/// base and no length, and one that runs into an unmapped page. uring's
/// `register_buffers` takes slices, whose base is never NULL and whose
/// memory is always mapped: the empty slice goes through it, the other two
/// are made directly.
#[test]
fn io_uring_register_buffers_the_kernel_cannot_pin_fault() {
    let mut ring = Ring::new(1).unwrap();
    let null = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 4096,
    }];
    // SAFETY: a NULL base, which the kernel refuses before pinning.
    let got = unsafe {
        raw_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_BUFFERS,
            null.as_ptr().cast(),
            1,
        )
    };
    assert_eq!(got, Err(libc::EFAULT));

    let mut some = [0u8; 16];
    // SAFETY: the kernel refuses an empty buffer; nothing is registered.
    let e = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut some[..0])]) }.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EFAULT), "{e:?}");

    // SAFETY: sysconf takes a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let map = sys::mmap_anonymous(2 * page).unwrap();
    // SAFETY: the second page of our own mapping.
    unsafe { sys::munmap(map.cast::<u8>().add(page).cast(), page) }.unwrap();
    let across = [libc::iovec {
        iov_base: map,
        iov_len: 2 * page,
    }];
    // SAFETY: the first page is mapped, the second not: the kernel fails
    // to pin the buffer and registers nothing.
    let got = unsafe {
        raw_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_BUFFERS,
            across.as_ptr().cast(),
            1,
        )
    };
    // SAFETY: the first page, still ours.
    unsafe { sys::munmap(map, page) }.unwrap();
    assert_eq!(got, Err(libc::EFAULT));
    // Nothing stayed registered: registering a good buffer works.
    let mut good = vec![0u8; 4096];
    // SAFETY: `good` outlives the registration, unregistered below.
    let table = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut good)]) }.unwrap();
    ring.unregister_buffers(table).unwrap();
}

/// liburing test/io_uring_register.c `test_iovec_size`: a buffer of one 2 MiB huge page
/// registers, and unregisters.
#[test]
fn io_uring_register_a_huge_page_buffer() {
    const LEN: usize = 2 * 1024 * 1024;
    let map = match sys::mmap_huge(LEN) {
        Ok(map) => map,
        Err(e) => {
            return skip(format_args!(
                "no 2 MiB huge page to map (vm.nr_hugepages): {e}"
            ));
        }
    };
    let mut ring = Ring::new(1).unwrap();
    // SAFETY: our own mapping of LEN bytes, unmapped only after the ring is
    // dropped.
    let buf = unsafe { std::slice::from_raw_parts_mut(map.cast::<u8>(), LEN) };
    // SAFETY: the mapping outlives the registration.
    match unsafe { ring.register_buffers(&[IoSliceMut::new(buf)]) } {
        Ok(table) => ring.unregister_buffers(table).unwrap(),
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
            skip(format_args!("RLIMIT_MEMLOCK below 2 MiB: {e}"));
        }
        Err(e) => panic!("register a huge page: {e}"),
    }
    drop(ring);
    // SAFETY: our own mapping, registered nowhere any more.
    unsafe { sys::munmap(map, LEN) }.unwrap();
}

/// liburing test/io_uring_register.c `test_iovec_size`: a buffer mapped from a regular
/// file (on a disk file system: tmpfs, ramfs and overlayfs pages may not
/// show as file-backed) is refused, with `EFAULT` or `EOPNOTSUPP`.
#[test]
fn io_uring_register_a_file_backed_buffer_is_refused() {
    const LEN: usize = 2 * 1024 * 1024;
    let file = tempfile::tempfile().unwrap();
    // SAFETY: all-zero bytes are a valid `statfs`.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: an open descriptor and a writable `statfs`.
    assert_eq!(unsafe { libc::fstatfs(file.as_raw_fd(), &mut fs) }, 0);
    let magic = fs.f_type as u32;
    if [0x794c_7630u32, 0x0102_1994, 0x8584_58f6].contains(&magic) {
        return skip(format_args!(
            "the temporary directory is on a virtual file system ({magic:#x})"
        ));
    }
    file.set_len(LEN as u64).unwrap();
    // SAFETY: a new shared mapping of the file, chosen by the kernel.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
    let mut ring = Ring::new(1).unwrap();
    // SAFETY: our own mapping of LEN bytes, unmapped after the ring is
    // dropped.
    let buf = unsafe { std::slice::from_raw_parts_mut(map.cast::<u8>(), LEN) };
    // SAFETY: the mapping outlives the ring, whatever the kernel does.
    let got = unsafe { ring.register_buffers(&[IoSliceMut::new(buf)]) };
    let errno = got.as_ref().err().and_then(|e| e.raw_os_error());
    if let Ok(table) = got {
        ring.unregister_buffers(table).unwrap();
    }
    drop(ring);
    // SAFETY: our own mapping, registered nowhere.
    unsafe { sys::munmap(map, LEN) }.unwrap();
    assert!(
        matches!(errno, Some(libc::EFAULT | libc::EOPNOTSUPP)),
        "a file-backed buffer: {errno:?}"
    );
}

/// liburing test/io_uring_register.c `test_iovec_nr`: a million buffers are too many
/// (`EINVAL`); `UIO_MAXIOV` (1024) of them register.
#[test]
fn io_uring_register_buffer_counts() {
    let mut ring = Ring::new(1).unwrap();
    let mut bytes = vec![0u8; 1_000_000];
    let million: Vec<IoSliceMut<'_>> = bytes.chunks_mut(1).map(IoSliceMut::new).collect();
    assert_eq!(million.len(), 1_000_000);
    // SAFETY: the kernel refuses the count before it pins anything.
    let e = unsafe { ring.register_buffers(&million) }.unwrap_err();
    assert!(from_kernel(&e), "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
    drop(million);

    // SAFETY: sysconf takes a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let mut pages = vec![0u8; 1024 * page];
    let maxiov: Vec<IoSliceMut<'_>> = pages.chunks_mut(page).map(IoSliceMut::new).collect();
    // SAFETY: `pages` outlives the registration, unregistered below.
    let table = unsafe { ring.register_buffers(&maxiov) }.unwrap();
    assert_eq!(table.len(), 1024);
    ring.unregister_buffers(table).unwrap();
}

/// liburing test/io_uring_register.c `test_max_fds`: a file table as large as the kernel
/// allows registers; the C test backs off from `UINT_MAX` entries by
/// halves until one does. Here from 2^21 entries (all `/dev/null`): above
/// `IORING_MAX_FIXED_FILES` (2^20) or `RLIMIT_NOFILE` the kernel refuses
/// the table (`EMFILE`), and the first size that registers is the largest
/// power of two within both.
#[test]
fn io_uring_register_the_largest_file_table_allowed() {
    let _watch = uring_tests::watchdog();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a writable `rlimit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0);
    let allowed = limit.rlim_cur.min(u64::from(sys::IORING_MAX_FIXED_FILES));
    let expect = 1u64 << (63 - allowed.leading_zeros());
    let null = std::fs::File::open("/dev/null").unwrap();
    let many = vec![null.as_fd(); 1 << 21];
    let mut ring = Ring::new(1).unwrap();
    let mut n = many.len();
    let mut refusals = Vec::new();
    let registered = loop {
        assert!(n > 0, "no table registered: {refusals:?}");
        match ring.register_files(&many[..n]) {
            Ok(table) => break table,
            Err(e) => {
                refusals.push((n, e.raw_os_error()));
                n /= 2;
            }
        }
    };
    assert_eq!(registered.len() as u64, expect, "refused: {refusals:?}");
    for &(n, errno) in &refusals {
        assert!(n as u64 > allowed, "{n} entries refused: {errno:?}");
        assert_eq!(errno, Some(libc::EMFILE), "{n} entries");
    }
    ring.unregister_files(registered).unwrap();
}

/// liburing test/io_uring_register.c `test_poll_ringfd`: a poll of a ring's descriptor
/// for `POLLIN | POLLOUT`, pushed to that ring, completes with `POLLOUT`
/// (its SQ has room); the ring's descriptor cannot be registered as a
/// file of the ring (`EBADF`). On a plain and an SQPOLL ring. uring lends
/// its ring's own descriptor to no op and no registration (it is
/// `AsRawFd`, not `AsFd`): the port uses a duplicate, which names the same
/// ring.
#[test]
fn io_uring_register_a_ring_polls_itself_writable_and_cannot_register_itself() {
    let _watch = uring_tests::watchdog();
    for sqpoll in [false, true] {
        let builder = if sqpoll {
            if !uring_tests::require_sqpoll() {
                return;
            }
            Ring::builder().sqpoll(Duration::from_millis(50))
        } else {
            Ring::builder()
        };
        let mut ring = builder.build(2).unwrap();
        let itself = dup(ring.as_raw_fd());
        let cqe = uring_tests::complete(
            &mut ring,
            PollAdd::new(&itself, PollEvents::IN | PollEvents::OUT).user_data(1),
        );
        assert_eq!(cqe.user_data(), 1);
        assert!(
            cqe.res() > 0 && cqe.res() & libc::POLLOUT as i32 != 0,
            "sqpoll {sqpoll}: {cqe:?}"
        );
        let e = ring.register_files(&[itself.as_fd()]).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EBADF),
            "sqpoll {sqpoll}: {e:?}"
        );
    }
}

// ---------------------------------------------------------------- reg-fd-only.c

/// One run of reg-fd-only.c `test`: a ring of `entries` made with
/// `IORING_SETUP_REGISTERED_FD_ONLY` (and SQPOLL if asked); `false` if the
/// kernel cannot make it (skipped).
fn reg_fd_only_case(entries: u32, sqpoll: bool) -> bool {
    let mut builder = Ring::builder().registered_fd_only();
    if sqpoll {
        builder = builder.sqpoll(Duration::from_millis(50));
    }
    let mut ring = match builder.build(entries) {
        Ok(ring) => ring,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) => {
            skip(format_args!(
                "no IORING_SETUP_REGISTERED_FD_ONLY (6.5): {e}"
            ));
            return false;
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
            skip(format_args!(
                "no memory for a ring of {entries} entries: {e}"
            ));
            return false;
        }
        Err(e) => panic!("setup of {entries} entries, sqpoll {sqpoll}: {e}"),
    };
    let case = format!("{entries} entries, sqpoll {sqpoll}");
    // The ring has no descriptor: there is nothing to close (liburing's
    // io_uring_close_ring_fd fails with EBADF).
    assert_eq!(ring.as_raw_fd(), -1, "{case}");
    let index = ring.registered_ring_fd().expect("a registered index");
    // liburing's io_uring_register_ring_fd answers EEXIST for a ring
    // registered already; uring's gives the index it has.
    assert_eq!(ring.register_ring_fd().unwrap(), index, "{case}");
    assert!(
        matches!(
            ring.unregister_ring_fd(),
            Err(uring::Error::InvalidArgument(_))
        ),
        "{case}: the index is the ring's only name"
    );
    let workers = ring.iowq_max_workers().unwrap();
    assert!(
        workers.bounded != 0 || workers.unbounded != 0,
        "{case}: {workers:?}"
    );
    let mut next = 0u64;
    let mut left = entries * 4;
    while left > 0 {
        let todo = left.min(entries);
        let first = next;
        for _ in 0..todo {
            ring.push(Nop::new().user_data(next)).unwrap();
            next += 1;
        }
        assert_eq!(ring.submit_and_wait(todo).unwrap(), todo, "{case}");
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        let want: Vec<(u64, i32)> = (first..next).map(|ud| (ud, 0)).collect();
        assert_eq!(got, want, "{case}");
        left -= todo;
    }
    true
}

/// liburing test/reg-fd-only.c: a ring with no descriptor, only its registered index
/// (8 entries; 8 with an SQ thread; 512, which takes more than a page):
/// registering its descriptor again gives the index it has, register calls
/// work through the index (the io-wq worker limits come back non-zero),
/// and four rounds of NOPs as large as the SQ each complete.
#[test]
fn reg_fd_only_a_ring_without_a_descriptor_registers_and_runs_nops() {
    let _watch = uring_tests::watchdog();
    if !reg_fd_only_case(8, false) {
        return;
    }
    if uring_tests::require_sqpoll() && !reg_fd_only_case(8, true) {
        return;
    }
    reg_fd_only_case(512, false);
}

// ---------------------------------------------------------------- reg-hint.c

/// liburing test/reg-hint.c: a sparse file table of 16 registered and unregistered; a
/// socket created into a slot the kernel picks then fails with `ENFILE`
/// (there is no table), rather than using a stale allocation hint.
#[test]
fn reg_hint_a_slot_allocation_after_the_table_is_gone_fails() {
    let mut ring = Ring::new(1).unwrap();
    let table = match ring.register_files_sparse(16) {
        Ok(table) => table,
        Err(e) => return skip(format_args!("no sparse file tables: {e}")),
    };
    ring.unregister_files(table).unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM)
            .direct(DirectSlot::ALLOC)
            .user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::ENFILE));
}

// ---------------------------------------------------------------- reg-reg-ring.c

/// liburing test/reg-reg-ring.c: with `IORING_FEAT_REG_REG_RING`, a ring's registered
/// index names it in register calls (`IORING_REGISTER_USE_REGISTERED_RING`):
/// the io-wq worker limits read through the index are those read through
/// the descriptor; once unregistered, the index names nothing (`EBADF`).
///
/// liburing's own answers (unregistering an index never registered:
/// `EINVAL`; registering twice: `EEXIST`) are uring's no-op and the index
/// it has. liburing's `io_uring_close_ring_fd` (close the descriptor, keep
/// the index) is `Ring::close_ring_fd` (`tests/tests/ring_fd_nop_gaps.rs`);
/// `registered_fd_only` makes a ring that never had one (reg-fd-only.c).
/// uring makes register calls through the descriptor when there is one,
/// so the call through the index is made directly.
#[test]
fn reg_reg_ring_register_calls_through_the_registered_index() {
    let mut ring = Ring::new(8).unwrap();
    if !require_features(&ring, Features::REG_REG_RING, "register calls by index") {
        return;
    }
    assert_eq!(ring.registered_ring_fd(), None);
    ring.unregister_ring_fd().unwrap();
    let index = ring.register_ring_fd().unwrap();
    assert_eq!(ring.registered_ring_fd(), Some(index));
    assert_eq!(ring.register_ring_fd().unwrap(), index);
    let workers = ring.iowq_max_workers().unwrap();
    assert!(
        workers.bounded != 0 || workers.unbounded != 0,
        "{workers:?}"
    );

    let mut values = [0u32; 2];
    // SAFETY: the two-word array the opcode reads and writes, alive for the
    // call; the index is this thread's registration of the ring.
    let got = unsafe {
        raw_register(
            index as RawFd,
            sys::IORING_REGISTER_IOWQ_MAX_WORKERS | sys::IORING_REGISTER_USE_REGISTERED_RING,
            values.as_mut_ptr().cast(),
            2,
        )
    };
    assert_eq!(got, Ok(0));
    assert_eq!(
        IoWqWorkers {
            bounded: values[0],
            unbounded: values[1]
        },
        workers
    );

    ring.unregister_ring_fd().unwrap();
    assert_eq!(ring.registered_ring_fd(), None);
    let mut values = [0u32; 2];
    // SAFETY: as above; the index now names no ring.
    let got = unsafe {
        raw_register(
            index as RawFd,
            sys::IORING_REGISTER_IOWQ_MAX_WORKERS | sys::IORING_REGISTER_USE_REGISTERED_RING,
            values.as_mut_ptr().cast(),
            2,
        )
    };
    assert_eq!(got, Err(libc::EBADF));
    assert_eq!(ring.iowq_max_workers().unwrap(), workers);
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 3);
}

// ---------------------------------------------------------------- large-resize.c

/// Whether the kernel resizes rings (6.13); `false` with a skip message.
fn require_resize() -> bool {
    uring_tests::require_kernel(6, 13, "resizing a ring")
}

/// liburing test/large-resize.c `test_cqe32_resize`: on a ring of 32-byte CQEs (deferred
/// task work, 8 SQ and 8 CQ entries), four NOPs complete; the CQ is
/// resized to 16; the four completions come out after it, in order, whole.
#[test]

fn large_resize_a_cqe32_ring_keeps_its_completions() {
    let _watch = uring_tests::watchdog();
    if !require_resize() {
        return;
    }
    let mut ring = match Builder::new()
        .single_issuer()
        .defer_taskrun()
        .cq_entries(8)
        .build_sized::<Sqe64, Cqe32>(8)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no 32-byte CQEs with deferred task work: {e}")),
    };
    for i in 0..4 {
        ring.push(Nop::new().user_data(0xAAAA_0000 + i)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 4);
    ring.resize(8, 16).expect("resize a ring of 32-byte CQEs");
    assert_eq!(ring.cq_entries(), 16);
    ring.wait_timeout(4, PATIENCE).unwrap();
    let got: Vec<(u64, i32, bool)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.is_big()))
        .collect();
    let want: Vec<(u64, i32, bool)> = (0..4).map(|i| (0xAAAA_0000 + i, 0, true)).collect();
    assert_eq!(got, want);
}

/// liburing test/large-resize.c `test_cqe_mixed_resize`: the same on a ring of mixed
/// CQEs (6.18): four NOPs, a resize of the CQ from 8 to 16, and the four
/// completions in order after it.
#[test]

fn large_resize_a_mixed_cq_ring_keeps_its_completions() {
    let _watch = uring_tests::watchdog();
    if !require_resize() || !uring_tests::require_kernel(6, 18, "mixed CQEs") {
        return;
    }
    let mut ring = match Builder::new()
        .single_issuer()
        .defer_taskrun()
        .cq_entries(8)
        .build_sized::<Sqe64, CqeMixed>(8)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no mixed CQEs with deferred task work: {e}")),
    };
    let expected = |i: u64| {
        if i.is_multiple_of(2) {
            0xBBBB_0000 + i
        } else {
            0xCCCC_0000 + i
        }
    };
    for i in 0..4 {
        ring.push(Nop::new().user_data(expected(i))).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 4);
    ring.resize(8, 16).expect("resize a ring of mixed CQEs");
    assert_eq!(ring.cq_entries(), 16);
    ring.wait_timeout(4, PATIENCE).unwrap();
    let got: Vec<(u64, i32, bool)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.is_big()))
        .collect();
    let want: Vec<(u64, i32, bool)> = (0..4).map(|i| (expected(i), 0, false)).collect();
    assert_eq!(got, want);
}

/// liburing test/large-resize.c `test_sqe128_resize`: on a ring of 128-byte SQEs, four
/// NOPs are pushed and the rings resized to 16 and 16 before they are
/// submitted. The C test leaves them in the SQ for the kernel to copy into
/// the new one and submits 4 after the resize; uring's `resize` submits
/// them first (by design), so the submit after it has nothing left to
/// hand over (0). The four complete, in order.
#[test]

fn large_resize_a_sqe128_ring_resized_with_sqes_pushed() {
    let _watch = uring_tests::watchdog();
    if !require_resize() {
        return;
    }
    let mut ring = match Builder::new()
        .single_issuer()
        .defer_taskrun()
        .cq_entries(8)
        .build_sized::<Sqe128, uring::Cqe16>(8)
    {
        Ok(ring) => ring,
        Err(e) => {
            return skip(format_args!(
                "no 128-byte SQEs with deferred task work: {e}"
            ));
        }
    };
    for i in 0..4 {
        ring.push(Nop::new().user_data(0xEEEE_0000 + i)).unwrap();
    }
    ring.resize(16, 16).expect("resize a ring of 128-byte SQEs");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (16, 16));
    assert_eq!(ring.submit().unwrap(), 0);
    ring.wait_timeout(4, PATIENCE).unwrap();
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    let want: Vec<(u64, i32)> = (0..4).map(|i| (0xEEEE_0000 + i, 0)).collect();
    assert_eq!(got, want);
}

/// liburing test/large-resize.c `test_ring_wrapping`: on a ring of 32-byte CQEs with 4
/// SQ entries (8 CQ entries), eight NOPs are submitted one at a time and
/// the first six read as they come (from the third on), so that the SQ
/// has gone round twice and the CQ's tail has reached the end of its
/// array; after a resize of the CQ to 16, the two unread completions (6
/// and 7) come out, and nothing else.
#[test]

fn large_resize_a_wrapped_cqe32_ring_keeps_the_unread_completions() {
    let _watch = uring_tests::watchdog();
    if !require_resize() {
        return;
    }
    let mut ring = match Builder::new()
        .single_issuer()
        .defer_taskrun()
        .build_sized::<Sqe64, Cqe32>(4)
    {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no 32-byte CQEs with deferred task work: {e}")),
    };
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (4, 8));
    let mut consumed = 0u64;
    for i in 0..8u64 {
        ring.push(Nop::new().user_data(0xDDDD_0000 + i)).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        if i >= 2 {
            ring.wait_timeout(1, PATIENCE).unwrap();
            let cqe = ring.completions().next().expect("a completion");
            assert_eq!(cqe.user_data(), 0xDDDD_0000 + consumed, "early completion");
            consumed += 1;
        }
    }
    assert_eq!(consumed, 6);
    ring.resize(4, 16)
        .expect("resize a wrapped ring of 32-byte CQEs");
    let rest: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(rest, [0xDDDD_0006, 0xDDDD_0007]);
}

/// liburing test/large-resize.c, what its resizes need of the kernel,
/// asked directly: a ring made with `io_uring_setup` alone (no uring ring
/// over it, deferred task work) with 32-byte CQEs, 128-byte SQEs, no SQ
/// array, or (6.18) mixed CQEs is resized when
/// `IORING_REGISTER_RESIZE_RINGS` is asked for with `IORING_SETUP_CQSIZE`
/// alone, as liburing asks, and refused (`EINVAL`) when the ring's own
/// setup flag is passed along, which the kernel carries over itself. The
/// second is the call uring's `Ring::resize` makes (see the
/// `large_resize_*` tests).
#[test]
fn large_resize_the_kernel_takes_only_size_flags_in_a_resize() {
    if !require_resize() {
        return;
    }
    let mut flags = vec![
        sys::IORING_SETUP_CQE32,
        sys::IORING_SETUP_SQE128,
        sys::IORING_SETUP_NO_SQARRAY,
    ];
    if uring_tests::kernel_version() >= (6, 18) {
        flags.push(sys::IORING_SETUP_CQE_MIXED);
    }
    for flag in flags {
        let mut p = sys::io_uring_params {
            flags: flag | sys::IORING_SETUP_SINGLE_ISSUER | sys::IORING_SETUP_DEFER_TASKRUN,
            ..Default::default()
        };
        // SAFETY: a valid `io_uring_params`, without NO_MMAP.
        let fd = match unsafe { raw_setup(8, &mut p) } {
            Ok(fd) => fd,
            Err(errno) => {
                return skip(format_args!(
                    "no setup flag {flag:#x} with deferred task work: {errno}"
                ));
            }
        };
        let resize = |extra: u32| {
            let mut p = sys::io_uring_params {
                sq_entries: 8,
                cq_entries: 32,
                flags: sys::IORING_SETUP_CQSIZE | extra,
                ..Default::default()
            };
            // SAFETY: the `io_uring_params` the opcode reads and writes; no
            // mapping of this ring exists that a resize could leave stale.
            unsafe {
                raw_register(
                    fd.as_raw_fd(),
                    sys::IORING_REGISTER_RESIZE_RINGS,
                    (&mut p as *mut sys::io_uring_params).cast(),
                    1,
                )
            }
            .map(|_| p.cq_entries)
        };
        assert_eq!(resize(flag), Err(libc::EINVAL), "a resize naming {flag:#x}");
        assert_eq!(
            resize(0),
            Ok(32),
            "flag {flag:#x}: a resize with CQSIZE alone"
        );
    }
}

// ---------------------------------------------------------------- regbuf-merge.c

/// liburing test/regbuf-merge.c (a syzkaller reproducer): on a ring of 0x2fd6 entries
/// (16384), two buffers are registered in one call, the first a NULL base
/// of length 0 (an empty slot) and the second 4 KiB at offset 0x840 of a
/// page, so across a page boundary; the kernel must take them without
/// merging them wrongly. uring's `register_buffers` cannot name an empty
/// slot (a slice's base is never NULL: an empty slice is refused with
/// `EFAULT`), so the call is made directly; a read into the second buffer
/// (a raw `READ_FIXED`: buffers registered directly have no uring handle)
/// then lands where it should, and one into the empty slot fails
/// (`EFAULT`).
#[test]
fn regbuf_merge_an_empty_slot_and_a_buffer_across_pages_register() {
    let _watch = uring_tests::watchdog();
    let mut backing = vec![0u8; 4 * 4096];
    let region = aligned(&mut backing, 3 * 4096);
    let mut ring = Ring::new(0x2fd6).unwrap();
    assert_eq!(ring.sq_entries(), 16384);
    let mut empty_slice = [0u8; 1];
    // SAFETY: the kernel refuses an empty buffer; nothing is registered.
    let e =
        unsafe { ring.register_buffers(&[IoSliceMut::new(&mut empty_slice[..0])]) }.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EFAULT), "{e:?}");

    let second = region[0x840..0x1840].as_mut_ptr();
    let iovecs = [
        libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        },
        libc::iovec {
            iov_base: second.cast(),
            iov_len: 0x1000,
        },
    ];
    // SAFETY: the iovecs are alive for the call; the second buffer lies in
    // `backing`, which outlives the ring (dropped first, below).
    let got = unsafe {
        raw_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_BUFFERS,
            iovecs.as_ptr().cast(),
            2,
        )
    };
    assert_eq!(got, Ok(0));

    let data = uring_tests::pattern(0x1000, 7);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let read_fixed = |index: u16, addr: u64, user_data: u64| {
        let mut sqe = uring_tests::raw_sqe(
            sys::IORING_OP_READ_FIXED,
            file.as_raw_fd(),
            addr,
            0x1000,
            0,
            user_data,
        );
        sqe.buf = sys::io_uring_sqe_buf { buf_index: index };
        sqe
    };
    let sqes = [read_fixed(1, second as u64, 1), read_fixed(0, 0, 2)];
    // SAFETY: the reads name the file, open until the ring is dropped, and
    // registered buffer 1, in `backing`; both are reaped below.
    unsafe { ring.push_raw(&sqes) }.unwrap();
    let mut got = pairs(&uring_tests::submit_and_reap(&mut ring, 2));
    got.sort_unstable();
    assert_eq!(got, [(1, 0x1000), (2, -libc::EFAULT)]);
    drop(ring);
    assert_eq!(&backing_region(&backing)[0x840..0x1840], &data[..]);
    assert!(backing_region(&backing)[..0x840].iter().all(|&b| b == 0));
    assert!(backing_region(&backing)[0x1840..].iter().all(|&b| b == 0));
}

/// The 3 pages of `backing` that `aligned` hands out.
fn backing_region(backing: &[u8]) -> &[u8] {
    let skip = backing.as_ptr().align_offset(4096);
    &backing[skip..skip + 3 * 4096]
}

/// liburing test/regbuf-merge.c, as uring says an empty slot: a sparse table of two,
/// slot 1 filled with 4 KiB across a page boundary; a fixed read into slot
/// 1 lands there, one naming slot 0 fails (`EFAULT`).
#[test]
fn regbuf_merge_an_empty_slot_and_a_buffer_across_pages_as_a_sparse_table() {
    let _watch = uring_tests::watchdog();
    let mut backing = vec![0u8; 4 * 4096];
    let data = uring_tests::pattern(0x1000, 9);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let table = match ring.register_buffers_sparse(2) {
        Ok(table) => table,
        Err(e) => return skip(format_args!("no sparse buffer tables (5.19): {e}")),
    };
    let region = aligned(&mut backing, 3 * 4096);
    let (before, rest) = region.split_at_mut(0x840);
    let (second, after) = rest.split_at_mut(0x1000);
    // SAFETY: `backing` outlives the registration (unregistered below,
    // before the ring and the buffer go).
    let updated = unsafe { ring.update_buffers(&table, 1, &[Some(IoSliceMut::new(second))]) };
    assert_eq!(updated.unwrap(), 1);
    let cqe = uring_tests::complete(
        &mut ring,
        ReadFixed::new(&file, &mut second[..], table.get(1).unwrap()).user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0x1000));
    assert_eq!(&second[..], &data[..]);
    let mut elsewhere = [0u8; 16];
    let cqe = uring_tests::complete(
        &mut ring,
        ReadFixed::new(&file, &mut elsewhere[..], table.get(0).unwrap()).user_data(2),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (2, -libc::EFAULT));
    assert!(before.iter().all(|&b| b == 0) && after.iter().all(|&b| b == 0));
    ring.unregister_buffers(table).unwrap();
}

// ---------------------------------------------------------------- fixed-seg.c

/// liburing test/fixed-seg.c: 512 KiB of data in a file read with `O_DIRECT`; a buffer
/// registered from offsets 0, one block (512) and 3584 of an aligned
/// region; fixed reads of 4096 bytes at that offset, 8192 at 4096 and 4096
/// at 4096 of the region (each inside the registered buffer, at various
/// offsets from its start) each read the file's first bytes, in full.
#[test]
fn fixed_seg_fixed_reads_at_offsets_inside_a_registered_buffer() {
    let _watch = uring_tests::watchdog();
    const LEN: usize = 512 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixed-seg");
    let wvec = uring_tests::pattern(LEN, 3);
    std::fs::write(&path, &wvec).unwrap();
    let Some(file) = uring_tests::open_direct(&path, true) else {
        return;
    };
    let mut backing = vec![0u8; LEN + 4096];
    let rvec = aligned(&mut backing, LEN);
    // The block size of direct I/O: 512 if a read into memory aligned to
    // 512 bytes (and not 4096) goes through, else 4096.
    // SAFETY: reads 512 bytes into the region, which holds them.
    let probe = unsafe { libc::pread(file.as_raw_fd(), rvec[512..].as_mut_ptr().cast(), 512, 0) };
    let bs = if probe == 512 { 512 } else { 4096 };
    let mut ring = Ring::new(8).unwrap();
    let mut offsets = vec![0, bs];
    if bs == 512 {
        offsets.push(3584);
    }
    for vec_off in offsets {
        rvec.fill(0);
        // SAFETY: `rvec` outlives the registration, unregistered below.
        let table = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut rvec[vec_off..])]) }
            .unwrap_or_else(|e| panic!("register at {vec_off}: {e}"));
        for (len, off) in [(4096, vec_off), (8192, 4096), (4096, 4096)] {
            let cqe = uring_tests::complete(
                &mut ring,
                ReadFixed::new(&file, &mut rvec[off..off + len], table.get(0).unwrap())
                    .user_data(1),
            );
            assert_eq!(
                cqe.res(),
                len as i32,
                "buffer at {vec_off}, read of {len} at {off}"
            );
            assert!(
                rvec[off..off + len] == wvec[..len],
                "buffer at {vec_off}, read of {len} at {off}: wrong bytes"
            );
        }
        ring.unregister_buffers(table).unwrap();
    }
}

// ---------------------------------------------------------------- eventfd-disable.c

/// One run of eventfd-disable.c `test` on a plain or deferred-task-work
/// ring.
fn eventfd_disable_case(defer: bool) {
    let efd = eventfd();
    let mut value = [0u8; 8];
    let mut iov = [IoSliceMut::new(&mut value)];
    let mut ring = if defer {
        match Ring::builder().single_issuer().defer_taskrun().build(64) {
            Ok(ring) => ring,
            Err(e) => return skip(format_args!("no deferred task work: {e}")),
        }
    } else {
        Ring::new(64).unwrap()
    };
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    assert!(ring.cq_eventfd_enabled());
    if let Err(e) = ring.set_cq_eventfd(false) {
        return skip(format_args!("no CQ ring flags (5.8): {e}"));
    }
    assert!(!ring.cq_eventfd_enabled());
    push_lent!(ring, ReadV::new(&efd, &mut iov[..]).user_data(1)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    for _ in 0..63 {
        ring.push(Nop::new().user_data(2)).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 63);
    let got = wait_pairs(&mut ring, 63);
    assert!(
        got.iter().all(|&p| p == (2, 0)),
        "defer {defer}: the eventfd was signalled while disabled: {got:?}"
    );
    assert_eq!(stray(&mut ring), [], "defer {defer}");

    ring.set_cq_eventfd(true).unwrap();
    assert!(ring.cq_eventfd_enabled());
    ring.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let mut got = wait_pairs(&mut ring, 2);
    got.sort_unstable();
    assert_eq!(got, [(1, 8), (2, 0)], "defer {defer}");
    drop(ring);
    assert_eq!(u64::from_ne_bytes(value), 1, "defer {defer}");
}

/// liburing test/eventfd-disable.c: with its eventfd turned off in the CQ ring's flags,
/// 63 NOPs complete without signalling it (a read of the eventfd stays
/// pending); turned on again, one more NOP signals it, and the read
/// completes with 8 bytes holding 1. On a plain and a deferred-task-work
/// ring.
#[test]
fn eventfd_disable_completions_signal_only_while_enabled() {
    let _watch = uring_tests::watchdog();
    eventfd_disable_case(false);
    eventfd_disable_case(true);
}

// ---------------------------------------------------------------- sq-poll-dup.c

/// Pushes 64 reads of 4 KiB (block `i` of the file into chunk `i` of
/// `buf`) to each of `rings` and submits them, then reaps them ring by
/// ring: each read completes with 4096 and the bytes of its block.
fn sq_poll_dup_io(
    rings: &mut [&mut Ring],
    bufs: &mut [&mut [u8]],
    file: &std::fs::File,
    data: &[u8],
) {
    const BS: usize = 4096;
    for (ring, buf) in rings.iter_mut().zip(bufs.iter_mut()) {
        buf.fill(0);
        for (i, chunk) in buf.chunks_mut(BS).enumerate() {
            push_lent!(
                ring,
                Read::new(file, chunk)
                    .offset((i * BS) as u64)
                    .user_data(i as u64)
            )
            .unwrap();
        }
        ring.submit().unwrap();
    }
    for (r, (ring, buf)) in rings.iter_mut().zip(bufs.iter()).enumerate() {
        let got = wait_pairs(ring, 64);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        let want: Vec<(u64, i32)> = (0..64).map(|i| (i, BS as i32)).collect();
        assert_eq!(sorted, want, "ring {r}");
        assert!(buf[..] == data[..], "ring {r}: wrong bytes");
    }
}

/// One run of sq-poll-dup.c `test`: four SQPOLL rings (idle 100 ms), the
/// last three attached to the first's SQ thread.
fn sq_poll_dup_case(dup_and_close: bool) {
    const BS: usize = 4096;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sq-poll-dup");
    let data = uring_tests::pattern(64 * BS, 5);
    std::fs::write(&path, &data).unwrap();
    let Some(file) = uring_tests::open_direct(&path, false) else {
        return;
    };
    let mut backings: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; 64 * BS + BS]).collect();
    let mut bufs: Vec<&mut [u8]> = backings.iter_mut().map(|b| aligned(b, 64 * BS)).collect();
    let idle = Duration::from_millis(100);
    let first = Ring::builder().sqpoll(idle).build(64).unwrap();
    if !require_features(
        &first,
        Features::SQPOLL_NONFIXED,
        "SQPOLL with plain descriptors",
    ) {
        return;
    }
    let mut rest: Vec<Ring> = (1..4)
        .map(|_| {
            Ring::builder()
                .sqpoll(idle)
                .attach_wq(&first)
                .build(64)
                .unwrap()
        })
        .collect();
    let mut first = first;
    let thread = sq_thread(&first);
    for ring in &rest {
        assert_eq!(
            sq_thread(ring),
            thread,
            "an attached ring shares the SQ thread"
        );
    }
    {
        let mut all: Vec<&mut Ring> = std::iter::once(&mut first).chain(rest.iter_mut()).collect();
        sq_poll_dup_io(&mut all, &mut bufs, &file, &data);
    }
    // The C test dups the first ring's descriptor and closes the original,
    // then goes on through the duplicate. A uring ring owns its descriptor
    // and cannot take another: the duplicate is made, and the ring goes on
    // through its own.
    let duplicate = dup(first.as_raw_fd());
    if !dup_and_close {
        {
            let mut others: Vec<&mut Ring> = rest.iter_mut().collect();
            sq_poll_dup_io(&mut others, &mut bufs[1..], &file, &data);
        }
        sq_poll_dup_io(&mut [&mut first], &mut bufs[..1], &file, &data);
        // Let the SQ thread go to sleep, so that the next submit must wake
        // it.
        let start = Instant::now();
        while !first.sq_needs_wakeup() {
            assert!(start.elapsed() < PATIENCE, "the SQ thread never slept");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        sq_poll_dup_io(&mut [&mut first], &mut bufs[..1], &file, &data);
        // The ring that made the SQ thread goes (its kernel ring lives on
        // in the duplicate); the attached rings keep using the thread.
        drop(first);
        let mut others: Vec<&mut Ring> = rest.iter_mut().collect();
        sq_poll_dup_io(&mut others, &mut bufs[1..], &file, &data);
    } else {
        drop(first);
    }
    drop(rest);
    drop(duplicate);
}

/// liburing test/sq-poll-dup.c: four SQPOLL rings sharing one SQ thread
/// (`IORING_SETUP_ATTACH_WQ`) each complete 64 direct reads; with the
/// first ring's descriptor duplicated, the other three and then the first
/// complete theirs again, and the first once more after its SQ thread
/// went to sleep; the first ring torn down, the attached three still
/// complete theirs. The second run tears every ring down while the
/// duplicate still holds the first.
#[test]
fn sq_poll_dup_attached_sqpoll_rings_work_around_a_duplicated_descriptor() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    sq_poll_dup_case(false);
    sq_poll_dup_case(true);
}

// ---------------------------------------------------------------- sqpoll-sleep.c

/// liburing test/sqpoll-sleep.c: an SQ thread with an idle time of 100 ms, after a NOP,
/// goes to sleep and sets `IORING_SQ_NEED_WAKEUP` within a second, and not
/// before its idle time has passed (the C test also bounds it above, at
/// 110 ms: a timing no loaded machine keeps). A NOP pushed then wakes it
/// and completes.
#[test]
fn sqpoll_sleep_the_thread_flags_wakeup_after_its_idle_time() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = Ring::builder()
        .sqpoll(Duration::from_millis(100))
        .build(1)
        .unwrap();
    // Timed from before the NOP, the thread's last work: however late this
    // thread runs again, the sleep cannot seem early.
    let start = Instant::now();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(pairs(&ring.completions().collect::<Vec<_>>()), [(1, 0)]);
    let mut seen = false;
    while start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_micros(100));
        if ring.sq_needs_wakeup() {
            seen = true;
            break;
        }
    }
    let elapsed = start.elapsed();
    assert!(seen, "the SQ thread did not flag a wakeup within a second");
    assert!(
        elapsed >= Duration::from_millis(80),
        "the SQ thread slept after {elapsed:?}, before its idle time"
    );
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(pairs(&ring.completions().collect::<Vec<_>>()), [(2, 0)]);
}

// ---------------------------------------------------------------- across-fork.c

/// The exit codes of the child of `across_fork_*`.
mod child_exit {
    pub(super) const OPEN: i32 = 10;
    pub(super) const WAIT_PARENTS: i32 = 11;
    pub(super) const PARENTS_WRONG: i32 = 12;
    pub(super) const SUBMIT: i32 = 13;
    pub(super) const OWN_WRONG: i32 = 14;
}

/// Whether `cqes[..n]` holds exactly one completion for each of `want`
/// (`user_data`, `res`), in any order. No allocation: for a forked child.
fn holds_exactly(cqes: &[Cqe], n: usize, want: &[(u64, i32)]) -> bool {
    n == want.len()
        && want.iter().all(|&(ud, res)| {
            cqes[..n]
                .iter()
                .filter(|c| c.user_data() == ud && c.res() == res)
                .count()
                == 1
        })
}

/// liburing test/across-fork.c: a ring shared by a parent and its forked child. Before
/// the fork, the parent writes (through the ring) a line to a shared file
/// and a line each to its files 1 and 2, and pushes, without submitting,
/// two writes for the child: one to the descriptor number of its file 1,
/// one to the shared file. The child sees the parent's four completions in
/// the shared CQ (waiting for them, and reading them without consuming
/// them), then submits the two writes: they run against the child's
/// descriptor table, where that number names the child's own file. After
/// the child has exited, the parent reaps all six completions, and a last
/// write of its to the shared file completes. The files then hold: shared,
/// the parent's two lines, the child's, and the parent's last; file 1 the
/// parent's line alone; the child's file the child's line.
///
/// The C test keeps its `struct io_uring` in shared memory, so that both
/// processes push and reap through the same copy of its cached head and
/// tail; a uring ring keeps them in the process (the parent's copy would
/// be stale after the child pushed or reaped), so here the child submits
/// SQEs the parent pushed and reads completions without consuming them,
/// and the parent's three other writes happen before the fork rather than
/// after it. The child makes only async-signal-safe calls: system calls,
/// and ring methods that allocate nothing.
#[test]
fn across_fork_a_child_shares_the_ring_of_its_parent() {
    let _watch = uring_tests::watchdog();
    const BEFORE: &[u8] = b"before fork: write shared fd\n";
    const PARENT_SHARED: &[u8] = b"parent: write shared fd\n";
    const PARENT_1: &[u8] = b"parent: write parent fd 1\n";
    const PARENT_2: &[u8] = b"parent: write parent fd 2\n";
    const CHILD_OWN: &[u8] = b"child: write child fd\n";
    const CHILD_SHARED: &[u8] = b"child: write shared fd\n";
    const AFTER: &[u8] = b"parent: write shared fd after child exit\n";
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(dir.path().join(name))
            .unwrap()
    };
    let shared = open("shared");
    let parent1 = open("parent1");
    let parent2 = open("parent2");
    let child_path = CString::new(dir.path().join("child").to_str().unwrap()).unwrap();
    let len = |b: &[u8]| b.len() as i32;

    let mut ring = Ring::new(10).unwrap();
    push_lent!(ring, Write::new(&shared, BEFORE).user_data(1)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    // The first line is in before the parent's next one is submitted.
    ring.wait_timeout(1, PATIENCE).unwrap();
    push_lent!(ring, Write::new(&shared, PARENT_SHARED).user_data(2)).unwrap();
    push_lent!(ring, Write::new(&parent1, PARENT_1).user_data(3)).unwrap();
    push_lent!(ring, Write::new(&parent2, PARENT_2).user_data(4)).unwrap();
    assert_eq!(ring.submit().unwrap(), 3);
    // The child's two writes: the first names file 1's descriptor number,
    // which the child makes name its own file.
    push_lent!(ring, Write::new(&parent1, CHILD_OWN).user_data(10)).unwrap();
    push_lent!(ring, Write::new(&shared, CHILD_SHARED).user_data(11)).unwrap();
    let number = parent1.as_raw_fd();
    let parents: [(u64, i32); 4] = [
        (1, len(BEFORE)),
        (2, len(PARENT_SHARED)),
        (3, len(PARENT_1)),
        (4, len(PARENT_2)),
    ];
    let all: [(u64, i32); 6] = [
        parents[0],
        parents[1],
        parents[2],
        parents[3],
        (10, len(CHILD_OWN)),
        (11, len(CHILD_SHARED)),
    ];
    let filler = Cqe::from(sys::io_uring_cqe::default());
    let mut seen = [filler; 8];

    // SAFETY: fork; the child below makes only async-signal-safe calls
    // (open, dup2, close, io_uring_enter through the ring's methods, which
    // allocate nothing on these paths, reads of the shared CQ) and leaves
    // with _exit, running no destructor of the parent's state.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: the child: plain system calls on memory prepared before
        // the fork, then _exit.
        unsafe {
            let own = libc::open(
                child_path.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_APPEND,
                0o600,
            );
            if own < 0 || libc::dup2(own, number) != number {
                libc::_exit(child_exit::OPEN);
            }
            libc::close(own);
            if ring.wait_timeout(4, PATIENCE).is_err() {
                libc::_exit(child_exit::WAIT_PARENTS);
            }
            let n = ring.peek_batch(&mut seen);
            if !holds_exactly(&seen, n, &parents) {
                libc::_exit(child_exit::PARENTS_WRONG);
            }
            if !matches!(ring.submit_and_wait(6), Ok(2)) {
                libc::_exit(child_exit::SUBMIT);
            }
            let n = ring.peek_batch(&mut seen);
            if !holds_exactly(&seen, n, &all) {
                libc::_exit(child_exit::OWN_WRONG);
            }
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is writable.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed: status {status:#x} (exit codes in `child_exit`)"
    );
    let mut got = pairs(&ring.completions().collect::<Vec<_>>());
    got.sort_unstable();
    assert_eq!(got, all, "the parent reaps its and the child's completions");
    push_lent!(ring, Write::new(&shared, AFTER).user_data(5)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(
        pairs(&ring.completions().collect::<Vec<_>>()),
        [(5, len(AFTER))]
    );
    drop(ring);
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(
        read("shared"),
        [BEFORE, PARENT_SHARED, CHILD_SHARED, AFTER].concat()
    );
    assert_eq!(read("parent1"), PARENT_1);
    assert_eq!(read("parent2"), PARENT_2);
    assert_eq!(read("child"), CHILD_OWN);
}

// ---------------------------------------------------------------- thread-exit.c

/// liburing test/thread-exit.c: eight threads, one after the other, each push a write of
/// 512 bytes (at its own offset of a file) and a poll of an empty pipe to
/// a ring they share, submit both and exit. The requests outlive the
/// threads that issued them: each write completes once, and the polls are
/// not cancelled as their threads exit (nothing else completes). (The C
/// test stops there.) The pipe made readable, each poll completes once:
/// with `ECANCELED`, since the task that would run its completion work is
/// gone.
///
/// The C test asserts that every write completes with 512. On Linux 6.18
/// one now and then completes with `ECANCELED` instead (in some runs
/// here): a buffered write to a file is handed to an io-wq worker of the
/// submitting thread, and work its exiting pool has not started yet is
/// cancelled. The port asserts either result, and that the file holds the
/// bytes of exactly the writes that completed with 512.
#[test]
fn thread_exit_requests_outlive_the_threads_that_submitted_them() {
    let _watch = uring_tests::watchdog();
    const WSIZE: usize = 512;
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[0u8; 8 * WSIZE]).unwrap();
    let (rx, tx) = pipe();
    let bufs: Vec<[u8; WSIZE]> = (0..8).map(|_| [0x5a; WSIZE]).collect();
    let mut ring = Ring::new(32).unwrap();
    for (i, buf) in bufs.iter().enumerate() {
        let (ring, file, rx) = (&mut ring, &file, &rx);
        std::thread::scope(|t| {
            t.spawn(move || {
                let off = (i * WSIZE) as u64;
                push_lent!(ring, Write::new(file, &buf[..]).offset(off).user_data(off)).unwrap();
                push_lent!(
                    ring,
                    PollAdd::new(rx, PollEvents::IN).user_data(1000 + i as u64)
                )
                .unwrap();
                assert_eq!(ring.submit().unwrap(), 2);
            });
        });
    }
    let mut got = wait_pairs(&mut ring, 8);
    got.sort_unstable();
    let offsets: Vec<u64> = got.iter().map(|&(off, _)| off).collect();
    let want: Vec<u64> = (0..8).map(|i| (i * WSIZE) as u64).collect();
    assert_eq!(offsets, want, "each write completes once: {got:?}");
    assert!(
        got.iter()
            .all(|&(_, res)| res == WSIZE as i32 || res == -libc::ECANCELED),
        "{got:?}"
    );
    assert_eq!(stray(&mut ring), [], "a poll ended with its thread");
    std::fs::File::from(tx).write_all(b"x").unwrap();
    let mut polls = wait_pairs(&mut ring, 8);
    polls.sort_unstable();
    // Each poll completes once: cancelled, its thread having exited, or
    // (when the write's wake-up reaches a thread that `join` saw end but
    // that the kernel has not finished tearing down) with `POLLIN`.
    let ids: Vec<u64> = polls.iter().map(|&(ud, _)| ud).collect();
    assert_eq!(ids, (1000..1008).collect::<Vec<_>>(), "{polls:?}");
    assert!(
        polls
            .iter()
            .all(|&(_, res)| res == -libc::ECANCELED || res == libc::POLLIN as i32),
        "{polls:?}"
    );
    drop(ring);
    let mut back = Vec::new();
    use std::io::{Read as _, Seek as _};
    file.rewind().unwrap();
    file.read_to_end(&mut back).unwrap();
    assert_eq!(back.len(), 8 * WSIZE);
    for (&(off, res), block) in got.iter().zip(back.chunks(WSIZE)) {
        let byte = if res == WSIZE as i32 { 0x5a } else { 0 };
        assert!(
            block.iter().all(|&b| b == byte),
            "block at {off} after a write that completed with {res}"
        );
    }
}

// ---------------------------------------------------------------- cq-peek-batch-mixed.c

/// A ring of mixed CQEs of 8 SQ entries, or `None` (skipped).
fn mixed_ring(cq: Option<u32>) -> Option<Ring<Sqe64, CqeMixed>> {
    if !uring_tests::require_kernel(6, 18, "mixed CQEs") {
        return None;
    }
    let mut builder = Builder::new();
    if let Some(cq) = cq {
        builder = builder.cq_entries(cq);
    }
    match builder.build_sized::<Sqe64, CqeMixed>(8) {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no mixed CQEs: {e}"));
            None
        }
    }
}

/// Pushes and submits `n` NOPs with `user_data` from `first` on; big ones
/// (32-byte CQEs, with words `user_data + 1000` and `+ 2000`) if `big`.
fn queue_nops(ring: &mut Ring<Sqe64, CqeMixed>, n: u64, big: bool, first: u64) {
    for ud in first..first + n {
        let nop = Nop::new().user_data(ud);
        if big {
            ring.push(nop.big_cqe([ud + 1000, ud + 2000])).unwrap();
        } else {
            ring.push(nop).unwrap();
        }
    }
    assert_eq!(ring.submit().unwrap(), n as u32);
}

/// Asserts that `cqe` is the NOP `user_data`, big or not as said, with its
/// words, and not a padding entry.
fn check_mixed(cqe: &BigCqe, user_data: u64, big: bool) {
    assert_eq!(
        cqe.flags() & sys::IORING_CQE_F_SKIP,
        0,
        "a padding entry: {cqe:?}"
    );
    assert_eq!(cqe.user_data(), user_data, "{cqe:?}");
    assert_eq!(cqe.is_big(), big, "{cqe:?}");
    assert_eq!(cqe.flags() & sys::IORING_CQE_F_32 != 0, big, "{cqe:?}");
    if big {
        assert_eq!(
            cqe.big_cqe(),
            [user_data + 1000, user_data + 2000],
            "{cqe:?}"
        );
    }
}

/// liburing test/cq-peek-batch-mixed.c: on a ring of mixed CQEs (16 CQ slots), batches
/// count completions, not slots: six NOPs, the middle two big (8 slots),
/// peek as 3 when 3 are asked for and 6 when 16 are; advanced past, and
/// three more read, the head is at slot 11; four small NOPs fill slots 11
/// to 14, a big one does not fit in slot 15, so the kernel pads it and
/// posts the big one at slots 0 and 1, and a small one at 2. liburing's
/// batch stops at the padding (4 completions), since it hands out
/// pointers into the ring; uring's copies, and reads across it: all six
/// come, in order, and none is the padding. Advanced by 4, the batch is
/// the big one and the last; advanced by 2, nothing is left.
#[test]
fn cq_peek_batch_mixed_batches_count_completions_across_the_padding() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring(None) else {
        return;
    };
    if ring.cq_entries() != 16 {
        return skip(format_args!("a CQ of {} slots, not 16", ring.cq_entries()));
    }
    let mut out = [BigCqe::default(); 16];
    assert_eq!(ring.peek_batch(&mut out), 0);

    queue_nops(&mut ring, 2, false, 1);
    queue_nops(&mut ring, 2, true, 3);
    queue_nops(&mut ring, 2, false, 5);
    assert_eq!(ring.peek_batch(&mut out[..3]), 3);
    check_mixed(&out[2], 3, true);
    assert_eq!(ring.peek_batch(&mut out), 6);
    for (i, cqe) in out[..6].iter().enumerate() {
        check_mixed(cqe, i as u64 + 1, i == 2 || i == 3);
    }
    assert_eq!(ring.advance(6), 6);

    queue_nops(&mut ring, 3, false, 10);
    assert_eq!(ring.peek_batch(&mut out), 3);
    for (i, cqe) in out[..3].iter().enumerate() {
        check_mixed(cqe, i as u64 + 10, false);
    }
    assert_eq!(ring.advance(3), 3);

    queue_nops(&mut ring, 4, false, 20);
    queue_nops(&mut ring, 1, true, 24);
    queue_nops(&mut ring, 1, false, 25);
    assert_eq!(ring.peek_batch(&mut out), 6);
    for (i, cqe) in out[..6].iter().enumerate() {
        check_mixed(cqe, i as u64 + 20, i == 4);
    }
    assert_eq!(ring.advance(4), 4);
    assert_eq!(ring.peek_batch(&mut out), 2);
    check_mixed(&out[0], 24, true);
    check_mixed(&out[1], 25, false);
    assert_eq!(ring.advance(2), 2);
    assert_eq!(ring.peek_batch(&mut out), 0);
    assert_eq!(ring.ready(), 0, "the CQ is empty");
}

// ---------------------------------------------------------------- nop32.c

/// liburing test/nop32.c: on a ring of mixed CQEs, a small NOP, then sixteen big ones
/// one at a time (so that the CQ goes round, padded where a big CQE would
/// not fit): each completes once, flagged `IORING_CQE_F_32`, with the two
/// words it was given.
#[test]
fn nop32_big_nops_carry_their_words_round_a_mixed_cq() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring(None) else {
        return;
    };
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let first: Vec<BigCqe> = ring.completions().collect();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].user_data(), first[0].res(), first[0].is_big()),
        (1, 0, false)
    );
    for i in 0..16u64 {
        let ud = i + 2;
        ring.push(Nop::new().user_data(ud).big_cqe([100 + i, 200 + i]))
            .unwrap();
        ring.submit_and_wait(1).unwrap();
        let got: Vec<BigCqe> = ring.completions().collect();
        assert_eq!(got.len(), 1, "nop {i}: {got:?}");
        let cqe = got[0];
        assert_eq!((cqe.user_data(), cqe.res()), (ud, 0), "nop {i}");
        assert!(
            cqe.is_big() && cqe.flags() & sys::IORING_CQE_F_32 != 0,
            "nop {i}: {cqe:?}"
        );
        assert_eq!(cqe.big_cqe(), [100 + i, 200 + i], "nop {i}");
    }
}

// ---------------------------------------------------------------- nop32-overflow.c

/// liburing test/nop32-overflow.c: on a ring of mixed CQEs with a CQ of 8 slots, a small
/// NOP and seven big ones submitted at once: the CQ holds the small one and
/// three big ones (slots 0 to 6; slot 7, too small for a big one, is
/// padding, which uring does not hand out), the kernel holding the other
/// four back (`IORING_SQ_CQ_OVERFLOW`); once those are read, the four come
/// out, in order, each big and whole. (The C test's big NOPs carry no
/// words; these carry some, to see them survive the overflow.)
#[test]
fn nop32_overflow_big_completions_past_a_full_mixed_cq_come_in_order() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring(Some(8)) else {
        return;
    };
    assert_eq!(ring.cq_entries(), 8);
    let words = |ud: u64| [ud * 10, ud * 100];
    ring.push(Nop::new().user_data(1)).unwrap();
    for ud in 2..=8 {
        ring.push(Nop::new().user_data(ud).big_cqe(words(ud)))
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 8);
    assert!(ring.cq_has_overflow(), "the kernel holds completions back");
    let first: Vec<(u64, bool, [u64; 2])> = ring
        .completions()
        .map(|c| (c.user_data(), c.is_big(), c.big_cqe()))
        .collect();
    assert_eq!(
        first,
        [
            (1, false, [0, 0]),
            (2, true, words(2)),
            (3, true, words(3)),
            (4, true, words(4))
        ]
    );
    let mut rest = Vec::new();
    while rest.len() < 4 {
        ring.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {rest:?}"));
        rest.extend(
            ring.completions()
                .map(|c| (c.user_data(), c.is_big(), c.big_cqe())),
        );
    }
    let want: Vec<(u64, bool, [u64; 2])> = (5..=8).map(|ud| (ud, true, words(ud))).collect();
    assert_eq!(rest, want);
    assert!(!ring.cq_has_overflow());
    assert_eq!(ring.ready(), 0);
}

// ---------------------------------------------------------------- wq-aff.c

/// The number of CPUs online.
fn cpus_online() -> usize {
    // SAFETY: sysconf takes a constant.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    assert!(n > 0);
    n as usize
}

/// liburing test/wq-aff.c `test_invalid_cpu`: an SQ thread bound to CPU 16 × the CPUs
/// online is refused by the kernel (`EINVAL`).
#[test]
fn wq_aff_an_sq_thread_on_a_cpu_past_the_last_is_refused() {
    if !uring_tests::require_sqpoll() {
        return;
    }
    let cpu = 16 * cpus_online() as u32;
    let e = Ring::builder()
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(cpu)
        .build(8)
        .unwrap_err();
    if e.raw_os_error() == Some(libc::EPERM) {
        return skip(format_args!("not allowed to bind an SQ thread: {e}"));
    }
    assert!(from_kernel(&e), "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
}

/// liburing test/wq-aff.c `test`: with the io-wq affinity registered as CPU 0, a read of
/// an empty pipe forced to a worker (`IOSQE_ASYNC`) runs on a worker bound
/// to CPU 0 alone; on an SQPOLL ring bound to CPU 1, the SQ thread is
/// bound to CPU 1 alone (and its workers to CPU 0). The C test runs the
/// SQPOLL ring; the plain ring is run too. The threads are found by name
/// (`iou-sqp-*`, `iou-wrk-*`) rather than by guessing their ids.
#[test]
fn wq_aff_io_wq_workers_and_the_sq_thread_run_on_their_cpus() {
    let _watch = uring_tests::watchdog();
    if cpus_online() < 2 {
        return skip("needs 2 CPUs");
    }
    for sqpoll in [false, true] {
        let mut ring = if sqpoll {
            if !uring_tests::require_sqpoll() {
                return;
            }
            Ring::builder()
                .sqpoll(Duration::from_secs(1))
                .sq_thread_cpu(1)
                .build(8)
                .unwrap()
        } else {
            Ring::new(8).unwrap()
        };
        ring.set_iowq_affinity(&[0]).unwrap();
        // The task whose io-wq runs the read: the SQ thread, or this one.
        let (owner, sq_cpu) = if sqpoll {
            let pid = sq_thread(&ring);
            (pid, Some(uring_tests::sq_thread_info(&ring).1))
        } else {
            (gettid(), None)
        };
        if let Some(cpu) = sq_cpu {
            assert_eq!(cpu, 1, "SqThreadCpu");
        }
        let (rx, _tx) = pipe();
        let mut buf = [0u8; 64];
        ring.scope(|s| {
            s.push(
                Read::new(&rx, &mut buf[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            let name = format!("iou-wrk-{owner}");
            let start = Instant::now();
            let workers = loop {
                let found = threads_named(&name);
                if !found.is_empty() {
                    break found;
                }
                assert!(
                    start.elapsed() < PATIENCE,
                    "sqpoll {sqpoll}: no thread named {name}"
                );
                std::thread::sleep(Duration::from_millis(1));
            };
            for worker in workers {
                assert_eq!(affinity(worker), [0], "sqpoll {sqpoll}: worker {worker}");
            }
            if sqpoll {
                assert_eq!(affinity(owner), [1], "the SQ thread's CPUs");
            }
            // The scope's end cancels the read.
        });
    }
}

// ---------------------------------------------------------------- ring-query.c

/// `struct io_uring_query_hdr` (6.18). uring has no types or calls for the
/// query interface (`IORING_REGISTER_QUERY`): the port declares them.
#[repr(C)]
#[derive(Debug, Default)]
struct QueryHdr {
    next_entry: u64,
    query_data: u64,
    query_op: u32,
    size: u32,
    result: i32,
    resv: [u32; 3],
}

/// `struct io_uring_query_opcode`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct QueryOpcode {
    nr_request_opcodes: u32,
    nr_register_opcodes: u32,
    feature_flags: u64,
    ring_setup_flags: u64,
    enter_flags: u64,
    sqe_flags: u64,
    nr_query_opcodes: u32,
    pad: u32,
}

/// The first two fields alone (ring-query.c's short form).
#[repr(C)]
#[derive(Debug, Default)]
struct QueryOpcodeShort {
    nr_request_opcodes: u32,
    nr_register_opcodes: u32,
}

/// A larger form than the kernel's (ring-query.c's long form).
#[repr(C)]
#[derive(Debug, Default)]
struct QueryOpcodeLarge {
    nr_request_opcodes: u32,
    nr_register_opcodes: u32,
    feature_flags: u64,
    ring_setup_flags: u64,
    enter_flags: u64,
    sqe_flags: u64,
    placeholder: [u64; 8],
}

const IO_URING_QUERY_OPCODES: u32 = 0;

/// A query header for `IO_URING_QUERY_OPCODES` into `data`.
fn query_hdr<T>(data: &mut T) -> QueryHdr {
    QueryHdr {
        query_data: data as *mut T as u64,
        query_op: IO_URING_QUERY_OPCODES,
        size: std::mem::size_of::<T>() as u32,
        ..Default::default()
    }
}

/// `io_uring_register(-1, IORING_REGISTER_QUERY, hdr, 0)`: a query needs
/// no ring.
///
/// # Safety
///
/// `hdr` and every header it chains to are alive, and each one's
/// `query_data` points to `size` writable bytes (or is an address the
/// kernel is expected to refuse).
unsafe fn query(hdr: &mut QueryHdr) -> Result<u32, i32> {
    // SAFETY: the caller's contract.
    unsafe {
        raw_register(
            -1,
            sys::IORING_REGISTER_QUERY,
            (hdr as *mut QueryHdr).cast(),
            0,
        )
    }
}

/// ring-query.c `test_basic_query`: the opcodes query, or `None` (with a
/// skip message) on a kernel without queries (`EINVAL`). Asserts that it
/// succeeds with the kernel's size and a result of 0, and counts more
/// register opcodes than `IORING_REGISTER_QUERY`.
fn basic_query() -> Option<QueryOpcode> {
    let mut op = QueryOpcode::default();
    let mut hdr = query_hdr(&mut op);
    // SAFETY: `hdr` points to `op`, of the size it says.
    match unsafe { query(&mut hdr) } {
        Err(libc::EINVAL) => {
            skip("no ring queries (IORING_REGISTER_QUERY, 6.18)");
            return None;
        }
        got => assert_eq!(got, Ok(0)),
    }
    assert_eq!(hdr.size as usize, std::mem::size_of::<QueryOpcode>());
    assert_eq!(hdr.result, 0);
    assert!(
        op.nr_register_opcodes > sys::IORING_REGISTER_QUERY,
        "{op:?}"
    );
    Some(op)
}

/// liburing test/ring-query.c `test_basic_query`: the opcodes query succeeds, and agrees
/// with what uring reads of the kernel: the number of request opcodes is
/// the probe's, and every feature a ring reports is in the query's
/// feature bits.
#[test]
fn ring_query_the_opcode_query_agrees_with_the_probe() {
    let Some(op) = basic_query() else {
        return;
    };
    let ring = Ring::new(8).unwrap();
    let probe = ring.probe().unwrap();
    assert_eq!(
        op.nr_request_opcodes,
        u32::from(probe.last_op()) + 1,
        "{op:?}"
    );
    for code in 0..op.nr_request_opcodes {
        assert!(probe.is_supported(code as u8), "opcode {code}");
    }
    let features = u64::from(ring.params().as_raw().features);
    assert_eq!(op.feature_flags & features, features, "{op:?}");
    assert!(
        op.nr_request_opcodes >= u32::from(sys::IORING_OP_LAST),
        "{op:?}"
    );
}

/// liburing test/ring-query.c `test_invalid`: an unknown query succeeds as a call with
/// the header's result `EOPNOTSUPP`; a header chaining to a bad address,
/// or pointing its data at one, fails the call with `EFAULT`.
#[test]
fn ring_query_invalid_queries() {
    if basic_query().is_none() {
        return;
    }
    let mut op = QueryOpcode::default();
    let mut hdr = query_hdr(&mut op);
    hdr.query_op = !0;
    // SAFETY: `hdr` points to `op`, of the size it says.
    assert_eq!(unsafe { query(&mut hdr) }, Ok(0));
    assert_eq!(hdr.result, -libc::EOPNOTSUPP);

    let mut hdr = query_hdr(&mut op);
    hdr.next_entry = 0xdead_beef;
    // SAFETY: the bad address is one the kernel must refuse.
    assert_eq!(unsafe { query(&mut hdr) }, Err(libc::EFAULT));

    let mut hdr = query_hdr(&mut op);
    hdr.query_data = 0xdead_beef;
    // SAFETY: as above.
    assert_eq!(unsafe { query(&mut hdr) }, Err(libc::EFAULT));
}

/// liburing test/ring-query.c `test_chain`: three chained headers are each answered,
/// with a result of 0 and the same opcode counts.
#[test]
fn ring_query_a_chain_of_three() {
    let Some(sys_ops) = basic_query() else {
        return;
    };
    let (mut op1, mut op2, mut op3) = Default::default();
    let mut hdr3 = query_hdr::<QueryOpcode>(&mut op3);
    let mut hdr2 = query_hdr::<QueryOpcode>(&mut op2);
    hdr2.next_entry = &mut hdr3 as *mut QueryHdr as u64;
    let mut hdr1 = query_hdr::<QueryOpcode>(&mut op1);
    hdr1.next_entry = &mut hdr2 as *mut QueryHdr as u64;
    // SAFETY: the three headers and their data are alive.
    assert_eq!(unsafe { query(&mut hdr1) }, Ok(0));
    assert_eq!((hdr1.result, hdr2.result, hdr3.result), (0, 0, 0));
    for op in [op1, op2, op3] {
        assert_eq!(op.nr_register_opcodes, sys_ops.nr_register_opcodes);
        assert_eq!(op, sys_ops);
    }
}

/// liburing test/ring-query.c `test_chain_loop`: a chain of two headers pointing at each
/// other, and a header pointing at itself, fail the call.
#[test]
fn ring_query_a_looping_chain_fails() {
    let _watch = uring_tests::watchdog();
    if basic_query().is_none() {
        return;
    }
    let mut op1 = QueryOpcode::default();
    let mut op2 = QueryOpcode::default();
    let mut hdr2 = query_hdr(&mut op2);
    let mut hdr1 = query_hdr(&mut op1);
    let (p1, p2) = (&raw mut hdr1, &raw mut hdr2);
    // SAFETY: both headers and their data are alive; each links to the
    // other through a pointer only the kernel follows.
    let got = unsafe {
        (*p1).next_entry = p2 as u64;
        (*p2).next_entry = p1 as u64;
        query(&mut *p1)
    };
    assert!(got.is_err(), "a loop of two: {got:?}");
    let mut alone = query_hdr(&mut op1);
    let p = &raw mut alone;
    // SAFETY: as above.
    let got = unsafe {
        (*p).next_entry = p as u64;
        query(&mut *p)
    };
    assert!(got.is_err(), "a header chained to itself: {got:?}");
}

/// liburing test/ring-query.c `test_compatibile_shorter` and `test_compatibile_larger`:
/// a caller's structure shorter than the kernel's gets its fields, and the
/// size it gave; a longer one gets the kernel's fields (and a size of at
/// least the kernel's structure).
#[test]
fn ring_query_shorter_and_longer_structures() {
    let Some(sys_ops) = basic_query() else {
        return;
    };
    let mut short = QueryOpcodeShort::default();
    let mut hdr = query_hdr(&mut short);
    // SAFETY: `hdr` points to `short`, of the size it says.
    assert_eq!(unsafe { query(&mut hdr) }, Ok(0));
    assert_eq!(hdr.result, 0);
    assert_eq!(hdr.size as usize, std::mem::size_of::<QueryOpcodeShort>());
    assert_eq!(
        (short.nr_request_opcodes, short.nr_register_opcodes),
        (sys_ops.nr_request_opcodes, sys_ops.nr_register_opcodes)
    );

    let mut large = QueryOpcodeLarge::default();
    let mut hdr = query_hdr(&mut large);
    // SAFETY: `hdr` points to `large`, of the size it says.
    assert_eq!(unsafe { query(&mut hdr) }, Ok(0));
    assert_eq!(hdr.result, 0);
    assert!(
        hdr.size as usize >= std::mem::size_of::<QueryOpcode>(),
        "{hdr:?}"
    );
    assert_eq!(
        (
            large.nr_request_opcodes,
            large.nr_register_opcodes,
            large.ring_setup_flags,
            large.feature_flags
        ),
        (
            sys_ops.nr_request_opcodes,
            sys_ops.nr_register_opcodes,
            sys_ops.ring_setup_flags,
            sys_ops.feature_flags
        )
    );
}
