//! The op table read against the kernel's prep and issue code (Linux
//! 6.12–6.19 `io_uring/*.c`): for each op that lends memory, the SQE fields
//! the kernel reads as an address, or as a length or count bounding one,
//! are fed from the borrow the op carries, and the fields safe code sets
//! freely (raw `i32` ops and options, values in `addr2` / `addr3`, lengths
//! in `addr`) are never taken for addresses. Each test lends memory that
//! ends at a guard page: a kernel access one byte past what was lent fails
//! with `EFAULT` (or faults the test), so a result other than the one
//! asserted here is a read or write outside the borrow.

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use uring::ops::{
    EpollCtl, EpollWait, FGetXattr, FSetXattr, Fadvise, Fallocate, FutexWait, FutexWake,
    GetSockOpt, Pipe, SetSockOpt, Timeout, TimeoutRemove, TimeoutUpdate, WaitId,
};
use uring::{Cqe, PipeSlots, Ring, SockOpt, WaitIdTarget};
use uring_tests::{Guarded, complete, require_kernel, require_op, skip, tcp_pair};

/// What a buffer holds before the kernel is given it.
const CANARY: u8 = 0xC7;

/// An event whose bytes say it was never written.
const MARKER: libc::epoll_event = libc::epoll_event {
    events: 0xdead,
    u64: 0xC7C7_C7C7_C7C7_C7C7,
};

/// A pipe with one byte waiting in it: its read end is ready.
fn ready_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = uring_tests::pipe();
    std::fs::File::from(w.try_clone().unwrap())
        .write_all(b"x")
        .unwrap();
    (r, w)
}

/// The `(events, data)` of each event, copied out of the packed struct.
fn events_of(events: &[libc::epoll_event]) -> Vec<(u32, u64)> {
    events.iter().map(|e| (e.events, e.u64)).collect()
}

/// The current value of an `int` socket option, read with `getsockopt(2)`.
fn int_option(fd: &impl AsRawFd, level: i32, name: i32) -> i32 {
    let mut value = 0i32;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: `value` and `len` outlive the call; `fd` is open.
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
    value
}

/// Pushes unborrowed ops, submits and collects `n` completions sorted by
/// arrival.
fn reap(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    let mut got = Vec::new();
    while got.len() < n {
        ring.submit_and_wait(1).unwrap();
        got.extend(ring.completions());
    }
    got
}

// ---------------------------------------------------------------------
// EPOLL_CTL and EPOLL_WAIT
// ---------------------------------------------------------------------

/// `EPOLL_CTL` reads `addr` as a 12-byte `struct epoll_event` for every
/// op but `EPOLL_CTL_DEL`, and `len`, the op, is a raw `i32` safe code
/// sets freely: with the event's last byte the last before a guard page,
/// `ADD` and `MOD` take its data whole (the data EPOLL_WAIT then reports
/// is the event's, to its last byte), an unknown op is refused with
/// `EINVAL` (its event read within the struct, not `EFAULT`), and `DEL`
/// succeeds without reading it.
#[test]
fn epoll_ctl_reads_its_event_whole_for_every_op_value() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollCtl<'static>>(&ring) || !require_op::<EpollWait<'static>>(&ring) {
        return;
    }
    let (first, _w1) = ready_pipe();
    let (second, _w2) = ready_pipe();
    let epoll = uring_tests::epoll_watching(first.as_fd(), 1);
    let mut mem = Guarded::new(64);
    let event = mem.place_one(libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0x0102_0304_0506_0777,
    });
    let cqe = complete(
        &mut ring,
        EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, &second, &*event),
    );
    assert_eq!(cqe.res(), 0, "ADD: {cqe:?}");
    let mut out = [MARKER; 4];
    let cqe = complete(&mut ring, EpollWait::new(&epoll, &mut out[..]));
    assert_eq!(cqe.res(), 2, "{cqe:?}");
    let mut seen = events_of(&out[..2]);
    seen.sort_by_key(|e| e.1);
    assert_eq!(
        seen,
        [
            (libc::EPOLLIN as u32, 1),
            (libc::EPOLLIN as u32, 0x0102_0304_0506_0777)
        ]
    );
    assert_eq!(events_of(&out[2..]), [(0xdead, 0xC7C7_C7C7_C7C7_C7C7); 2]);

    event.u64 = 0x7700_0000_0000_0002;
    let cqe = complete(
        &mut ring,
        EpollCtl::new(&epoll, libc::EPOLL_CTL_MOD, &second, &*event),
    );
    assert_eq!(cqe.res(), 0, "MOD: {cqe:?}");
    let cqe = complete(&mut ring, EpollWait::new(&epoll, &mut out[..]));
    assert_eq!(cqe.res(), 2, "{cqe:?}");
    assert!(
        events_of(&out[..2]).contains(&(libc::EPOLLIN as u32, 0x7700_0000_0000_0002)),
        "{:?}",
        events_of(&out[..2])
    );

    for op in [0, 4, 99, -1, i32::MAX] {
        let cqe = complete(&mut ring, EpollCtl::new(&epoll, op, &second, &*event));
        assert_eq!(cqe.res(), -libc::EINVAL, "op {op}: {cqe:?}");
    }
    let cqe = complete(
        &mut ring,
        EpollCtl::new(&epoll, libc::EPOLL_CTL_DEL, &second, &*event),
    );
    assert_eq!(cqe.res(), 0, "DEL: {cqe:?}");
    let cqe = complete(&mut ring, EpollWait::new(&epoll, &mut out[..]));
    assert_eq!(cqe.res(), 1, "{cqe:?}");
    assert_eq!(events_of(&out[..1]), [(libc::EPOLLIN as u32, 1)]);
}

/// `EPOLL_WAIT` takes `len` as `maxevents`, the slice's own length: with
/// three descriptors ready and the slice's last event the last bytes
/// before a guard page, one, two and three slots get one, two and three
/// events (each 12 bytes, the kernel's packed layout), and no write lands
/// on the guard page (which would fail the op with `EFAULT`).
#[test]
fn epoll_wait_fills_at_most_its_slice_ending_at_a_guard_page() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollWait<'static>>(&ring) {
        return;
    }
    assert_eq!(std::mem::size_of::<libc::epoll_event>(), 12);
    let pipes: Vec<_> = (0..3).map(|_| ready_pipe()).collect();
    let epoll = uring_tests::epoll_watching(pipes[0].0.as_fd(), 10);
    for (i, (r, _)) in pipes.iter().enumerate().skip(1) {
        let event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 10 + i as u64,
        };
        let cqe = complete(
            &mut ring,
            EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, r, &event),
        );
        assert_eq!(cqe.res(), 0, "{cqe:?}");
    }
    for room in 1..=3usize {
        let mut mem = Guarded::new(64);
        let out = mem.place(vec![MARKER; room]);
        let cqe = complete(&mut ring, EpollWait::new(&epoll, &mut *out));
        assert_eq!(cqe.res(), room as i32, "room for {room}: {cqe:?}");
        for (events, data) in events_of(out) {
            assert_eq!(events, libc::EPOLLIN as u32);
            assert!((10..13).contains(&data), "{data:#x}");
        }
    }
}

// ---------------------------------------------------------------------
// WAITID and PIPE: structs the kernel fills
// ---------------------------------------------------------------------

/// `WAITID` writes the child's state through `addr2` into a `siginfo_t`
/// (128 bytes) whose last byte is the last before a guard page: the
/// kernel's `unsafe_put_user`s all land inside (the op completes with 0,
/// not `EFAULT`), and `len`, `fd` and `file_index` (id type, id,
/// options) are numbers, not addresses.
#[test]
fn waitid_writes_a_siginfo_ending_at_a_guard_page() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'static>>(&ring) {
        return;
    }
    assert_eq!(std::mem::size_of::<libc::siginfo_t>(), 128);
    let mut mem = Guarded::new(4096);
    // SAFETY: all-zero bytes are a valid `siginfo_t` (plain integers).
    let info = mem.place_one(unsafe { std::mem::zeroed::<libc::siginfo_t>() });
    #[allow(clippy::zombie_processes)] // reaped by the op
    let child = std::process::Command::new("true").spawn().unwrap();
    let cqe = complete(
        &mut ring,
        WaitId::new(
            WaitIdTarget::pid(child.id() as libc::pid_t),
            libc::WEXITED,
            &mut *info,
        ),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(info.si_signo, libc::SIGCHLD);
    assert_eq!(info.si_errno, 0);
    assert_eq!(info.si_code, libc::CLD_EXITED);
    // Options the kernel refuses are refused before anything is written.
    info.si_signo = 0x5a5a;
    let cqe = complete(
        &mut ring,
        WaitId::new(WaitIdTarget::all(), 0x7fff_0000, &mut *info),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    assert_eq!(info.si_signo, 0x5a5a, "a refused wait wrote");
}

/// `PIPE` writes its two ends (or, direct, the two slots it picked)
/// through `addr` into eight bytes: lent as a `[u8; 8]` whose last byte
/// is the last before a guard page, both numbers land there whole and
/// the op completes with 0 (a write past them would be `EFAULT`, with the
/// pipe's files dropped).
#[test]
fn pipe_writes_its_ends_into_eight_bytes_at_a_guard_page() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    let words = |b: &[u8; 8]| -> [RawFd; 2] {
        [
            RawFd::from_ne_bytes(b[..4].try_into().unwrap()),
            RawFd::from_ne_bytes(b[4..].try_into().unwrap()),
        ]
    };
    let mut mem = Guarded::new(64);
    let fds = mem.place_one([CANARY; 8]);
    let cqe = complete(&mut ring, Pipe::new(&mut *fds));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let [r, w] = words(fds);
    assert!(r >= 0 && w >= 0 && r != w, "{r} {w}");
    // SAFETY: the kernel made both descriptors for this process and
    // nothing else owns them.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w)) };
    std::fs::File::from(w).write_all(b"ok").unwrap();
    let mut got = [0u8; 2];
    std::io::Read::read_exact(&mut std::fs::File::from(r), &mut got).unwrap();
    assert_eq!(&got, b"ok");

    let _table = ring.register_files_sparse(4).unwrap();
    let fds = mem.place_one([CANARY; 8]);
    let cqe = complete(
        &mut ring,
        Pipe::new(&mut *fds).pipe_flags(0).direct(PipeSlots::ALLOC),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let [a, b] = words(fds);
    assert!(
        (0..4).contains(&a) && (0..4).contains(&b) && a != b,
        "{a} {b}"
    );
}

// ---------------------------------------------------------------------
// Socket options through URING_CMD
// ---------------------------------------------------------------------

/// `GETSOCKOPT` reads `optval` as the value's address and `optlen` as its
/// room; of `SO_PEERNAME` (an address, 16 bytes for IPv4) the kernel
/// writes `optlen` bytes, refusing a room longer than the address
/// (`EINVAL`): into 4, 8 and 16 bytes ending at a guard page it writes
/// exactly those (the address's first bytes), into 17 or 128 nothing.
#[test]
fn getsockopt_peer_name_writes_exactly_its_room_at_a_guard_page() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<GetSockOpt<'static>>(&ring) || !require_kernel(6, 7, "GETSOCKOPT") {
        return;
    }
    let (a, b) = tcp_pair();
    let peer = b.local_addr().unwrap();
    let std::net::SocketAddr::V4(peer) = peer else {
        skip("the pair is not IPv4");
        return;
    };
    let mut want = Vec::new();
    want.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    want.extend_from_slice(&peer.port().to_be_bytes());
    want.extend_from_slice(&peer.ip().octets());
    want.extend_from_slice(&[0; 8]);
    for len in [4usize, 8, 16] {
        let mut mem = Guarded::new(256);
        let value = mem.tail(len);
        value.fill(CANARY);
        let cqe = complete(
            &mut ring,
            GetSockOpt::new(&a, SockOpt::SO_PEERNAME, &mut *value),
        );
        assert_eq!(cqe.res(), len as i32, "room {len}: {cqe:?}");
        assert_eq!(value, &want[..len]);
    }
    for len in [17usize, 128] {
        let mut mem = Guarded::new(256);
        let value = mem.tail(len);
        value.fill(CANARY);
        let cqe = complete(
            &mut ring,
            GetSockOpt::new(&a, SockOpt::SO_PEERNAME, &mut *value),
        );
        assert_eq!(cqe.res(), -libc::EINVAL, "room {len}: {cqe:?}");
        assert!(value.iter().all(|&b| b == CANARY), "room {len} written");
    }
}

/// A value of `2^31`, `u32::MAX` or `2^32 + 16` bytes (lazily mapped)
/// reaches the kernel as a length clamped to `u32::MAX`, never wrapped
/// (`2^32 + 16` would be 16): the kernel reads `optlen` as an `int`, so
/// each is negative, and both `GETSOCKOPT` and `SETSOCKOPT` refuse it
/// (`EINVAL`) before touching the value: nothing is written into it, and
/// the option keeps its value.
#[test]
fn sockopt_lengths_past_int_max_are_refused_untouched() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<GetSockOpt<'static>>(&ring) || !require_kernel(6, 7, "socket commands") {
        return;
    }
    let Some(mut mem) = Guarded::map((1 << 32) + 4096, true) else {
        skip("cannot map 4 GiB of address space");
        return;
    };
    let (a, _b) = UnixStream::pair().unwrap();
    let before = int_option(&a, libc::SOL_SOCKET, libc::SO_RCVBUF);
    for len in [1usize << 31, u32::MAX as usize, (1 << 32) + 16] {
        let value = &mut mem.bytes()[..len];
        value[..16].fill(CANARY);
        let cqe = complete(
            &mut ring,
            GetSockOpt::new(&a, SockOpt::SO_RCVBUF, &mut *value),
        );
        assert_eq!(cqe.res(), -libc::EINVAL, "get into {len:#x}: {cqe:?}");
        assert!(value[..16].iter().all(|&b| b == CANARY), "written");
        value[..4].copy_from_slice(&4096i32.to_ne_bytes());
        let cqe = complete(&mut ring, SetSockOpt::new(&a, SockOpt::SO_RCVBUF, &*value));
        assert_eq!(cqe.res(), -libc::EINVAL, "set from {len:#x}: {cqe:?}");
        assert_eq!(int_option(&a, libc::SOL_SOCKET, libc::SO_RCVBUF), before);
    }
    // Just under `INT_MAX`, the value is read as the `int` it starts with.
    let value = &mut mem.bytes()[..(1 << 31) - 4096];
    value[..4].copy_from_slice(&8192i32.to_ne_bytes());
    let cqe = complete(&mut ring, SetSockOpt::new(&a, SockOpt::SO_RCVBUF, &*value));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_ne!(int_option(&a, libc::SOL_SOCKET, libc::SO_RCVBUF), before);
}

// ---------------------------------------------------------------------
// Extended attributes
// ---------------------------------------------------------------------

/// `FSETXATTR` and `FGETXATTR` read `addr2` as the value and `len` as its
/// size. A value of `2^32 + 16` bytes is lent as `u32::MAX`, never 16:
/// setting it is refused (`E2BIG`, past `XATTR_SIZE_MAX`) and the
/// attribute keeps its value; reading into it writes the attribute's 20
/// bytes and nothing after (the kernel caps the size at `XATTR_SIZE_MAX`
/// and writes what the attribute holds). A value ending at a guard page,
/// exactly as long as the attribute, is read and written whole.
#[test]
fn xattr_values_are_sized_by_their_slices_even_past_u32_max() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FSetXattr<'static>>(&ring) {
        return;
    }
    let file = tempfile::tempfile().unwrap();
    let name = c"user.audit";
    let value = b"twenty bytes, exact.";
    let mut mem = Guarded::new(64);
    let lent = mem.tail_of(value);
    let cqe = complete(&mut ring, FSetXattr::new(&file, name, &*lent));
    if cqe.res() == -libc::EOPNOTSUPP {
        skip("the temporary directory's file system has no user xattrs");
        return;
    }
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let out = mem.tail(value.len());
    out.fill(CANARY);
    let cqe = complete(&mut ring, FGetXattr::new(&file, name, &mut *out));
    assert_eq!(cqe.res(), value.len() as i32, "{cqe:?}");
    assert_eq!(out, value);

    let Some(mut huge) = Guarded::map((1 << 32) + 4096, true) else {
        skip("cannot map 4 GiB of address space");
        return;
    };
    let big = &mut huge.bytes()[..(1 << 32) + 16];
    big[..16].copy_from_slice(b"sixteen bytes!!!");
    let cqe = complete(&mut ring, FSetXattr::new(&file, name, &*big));
    assert_eq!(cqe.res(), -libc::E2BIG, "{cqe:?}");
    big[..64].fill(CANARY);
    let cqe = complete(&mut ring, FGetXattr::new(&file, name, &mut *big));
    assert_eq!(cqe.res(), value.len() as i32, "{cqe:?}");
    assert_eq!(&big[..value.len()], value, "the attribute was replaced");
    assert!(big[value.len()..64].iter().all(|&b| b == CANARY));
}

// ---------------------------------------------------------------------
// Fields that hold numbers where other opcodes hold addresses
// ---------------------------------------------------------------------

/// `TIMEOUT_REMOVE` with `IORING_TIMEOUT_UPDATE` reads `addr` as the
/// target's `user_data` and `addr2` as the new timespec (the ring's own
/// copy); `TIMEOUT` reads `off` as a count. A 30-second timeout updated to
/// 1 ms fires (`-ETIME`) before a 10-second one pushed between them, an
/// update naming no timeout is `-ENOENT`, and a timeout removed by
/// `user_data` completes with `-ECANCELED`: each field was read as what
/// the table says.
#[test]
fn timeout_updates_read_the_target_from_addr_and_the_time_from_addr2() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(1))
        .unwrap();
    ring.push(
        Timeout::new(Duration::from_secs(10))
            .count(1000)
            .user_data(2),
    )
    .unwrap();
    ring.push(TimeoutUpdate::new(1, Duration::from_millis(1)).user_data(3))
        .unwrap();
    ring.push(TimeoutUpdate::new(77, Duration::from_millis(1)).user_data(4))
        .unwrap();
    let got = reap(&mut ring, 3);
    let got: Vec<(u64, i32)> = got.iter().map(|c| (c.user_data(), c.res())).collect();
    assert!(got.contains(&(3, 0)), "{got:?}");
    assert!(got.contains(&(4, -libc::ENOENT)), "{got:?}");
    assert!(got.contains(&(1, -libc::ETIME)), "{got:?}");
    assert!(!got.iter().any(|&(ud, _)| ud == 2), "{got:?}");
    ring.push(TimeoutRemove::new(2).user_data(5)).unwrap();
    let got = reap(&mut ring, 2);
    let mut got: Vec<(u64, i32)> = got.iter().map(|c| (c.user_data(), c.res())).collect();
    got.sort();
    assert_eq!(got, [(2, -libc::ECANCELED), (5, 0)]);
}

/// `FUTEX_WAIT` and `FUTEX_WAKE` read `addr` as the word (4 bytes, here
/// the last before a guard page) and `addr2` / `addr3` as the value, the
/// count and the mask: numbers, which an address-like value does not turn
/// into a read. A value wider than 32 bits and a zero mask are refused
/// (`EINVAL`), a value the word does not hold is `EAGAIN` (the word was
/// read, and only it); a wake count wider than 32 bits is refused too,
/// and a wake of `u32::MAX` waiters whose mask is an address's low half
/// wakes none.
#[test]
fn futex_values_counts_and_masks_are_numbers() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWait<'static>>(&ring) {
        return;
    }
    let mut mem = Guarded::new(64);
    let word = &*mem.place_one(AtomicU32::new(5));
    let address_like = word as *const AtomicU32 as u64;
    let cqe = complete(&mut ring, FutexWait::new(word, (1 << 32) | 5));
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    let cqe = complete(&mut ring, FutexWait::new(word, 6));
    assert_eq!(cqe.res(), -libc::EAGAIN, "{cqe:?}");
    let cqe = complete(&mut ring, FutexWait::new(word, 5).mask(0));
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    // Wider than 32 bits where the allocator places memory high (not
    // under valgrind, whose heap lies below 4 GiB: then a value the word
    // does not hold).
    let wide = address_like > u64::from(u32::MAX);
    let cqe = complete(&mut ring, FutexWait::new(word, address_like));
    let want = if wide { -libc::EINVAL } else { -libc::EAGAIN };
    assert_eq!(cqe.res(), want, "{cqe:?}");
    let cqe = complete(&mut ring, FutexWake::new(word, u64::MAX));
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    let cqe = complete(
        &mut ring,
        FutexWake::new(word, u64::from(u32::MAX)).mask(address_like & 0xffff_ffff | 1),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(word.load(Ordering::Relaxed), 5);
}

/// `FALLOCATE` reads its length from `addr`, and `FADVISE` (6.7) a length
/// above 4 GiB from `addr`: numbers, not addresses. A length that is the
/// address of a guard page's first byte allocates that many bytes (with
/// `FALLOC_FL_KEEP_SIZE`, so the file's size stays), and advice over
/// 5 GiB completes with 0.
#[test]
fn lengths_in_addr_are_lengths() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let cqe = complete(&mut ring, Fallocate::new(&file, 3 << 20));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(file.metadata().unwrap().len(), 3 << 20);
    let mut mem = Guarded::new(64);
    let guard = mem.tail(0).as_ptr() as u64;
    let cqe = complete(
        &mut ring,
        // Its low 20 bits, or a page where those are 0 (an address 1 MiB
        // aligned: a length of 0 would be EINVAL).
        Fallocate::new(&file, (guard & 0xf_ffff).max(4096))
            .offset(1 << 20)
            .mode(libc::FALLOC_FL_KEEP_SIZE),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(file.metadata().unwrap().len(), 3 << 20);
    if require_kernel(6, 7, "64-bit FADVISE lengths") {
        let cqe = complete(
            &mut ring,
            Fadvise::new(&file, libc::POSIX_FADV_WILLNEED).len(5 << 32),
        );
        assert_eq!(cqe.res(), 0, "{cqe:?}");
        let cqe = complete(
            &mut ring,
            Fadvise::new(&file, libc::POSIX_FADV_DONTNEED).len(guard),
        );
        assert_eq!(cqe.res(), 0, "{cqe:?}");
    }
}
