//! Attacks on the lengths and counts of what the kernel reads: every op,
//! and every registration call on `Ring`, where the kernel reads memory
//! the program lent (bytes to write or send, iovec arrays, message
//! headers, addresses, control records, socket option values, paths and
//! names, `open_how`, epoll events, futex words and vectors, descriptor
//! arrays) with a length or a count the op's fields or the lent memory
//! give, driven from safe code to make the kernel read past what was lent.
//!
//! Every lent region is laid out to end exactly at a `PROT_NONE` page: a
//! read of even one byte past it faults, and the kernel then fails the op
//! with `EFAULT` (or a short count) instead of reading the program's
//! memory. So each test asserts the op's exact successful result and, where
//! it shows, exactly the bytes the kernel consumed: what the peer received
//! (and the TTL, traffic class or credentials a control record set), what
//! the file holds, what a socket option or an attribute reads back, which
//! file a slot holds. Regions of length 0 sit at the guard page's first
//! byte, and the largest lengths and counts the types allow are tried.
//!
//! The arrays the library builds itself (the descriptors of
//! `register_files`, `update_files`, `FileUpdates`, tags) are put at a guard
//! page too: while a test arms it on its thread, this binary's allocator
//! places each allocation so that it ends at a `PROT_NONE` page.
//!
//! The paths tried, through `Ring::scope` with borrowed memory and through
//! `uring::reactor` with owned (leaked, `'static`) memory: writes, vectored
//! writes and sends of up to `UIO_MAXIOV` iovecs, zero-copy sends, bundles;
//! fixed-buffer writes and sends whose slices end at the registered
//! buffer's end; send destinations, `Connect` and `Bind` of every address
//! family and length the library builds (Unix paths that fill `sun_path`,
//! abstract names of every length, the unnamed address); `SendMsg` with
//! every kind of control record `MsgHdr::control` lets through; every
//! `SockOpt::PLAIN` option set from values of 0 to 64 bytes and of the
//! largest lengths, on every socket family and protocol this machine makes,
//! against `setsockopt(2)` given the same bytes; paths up to `PATH_MAX`,
//! `open_how`, attribute names and values up to `XATTR_SIZE_MAX`; futex
//! words and vectors of 0 to 129 entries; epoll events; the structs of
//! selected reads and multishot receives.
//!
//! No length or count was found read past what was lent. A bundle send
//! over a borrowed buffer showed another hole, in a scope's count of the
//! completions rather than in what the kernel reads: it posts two
//! completions, which a fast scope counts as two ops ending
//! (`a_bundle_send_is_counted_once_in_a_fast_scope`, ignored as a defect).
//!
//! Every attack is safe code. `unsafe` appears only to set up (map guard
//! pages, make sockets of other families, as a process handed them over
//! would, register buffers) or to inspect, each with a `// SAFETY:`
//! comment.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CStr;

use std::io::{IoSlice, IoSliceMut, Read as _, Seek as _, Write as _};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener, UnixStream};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use uring_tests::Guarded as Guard;
use uring_tests::Record;

use uring::ops::{
    Bind, Connect, EpollCtl, EpollWait, FSetXattr, FilesUpdate, FixedFdInstall, FutexWait,
    FutexWaitv, FutexWake, LinkAt, MkdirAt, OpenAt, OpenAt2, ReadVSelect, RecvMsgMulti,
    RecvMsgSelect, RenameAt, Send, SendMsg, SendMsgZc, SendMsgZcFixed, SendV, SendZc, SendZcFixed,
    SendZcV, SetSockOpt, SetXattr, Statx, SymlinkAt, UnlinkAt, Write, WriteFixed, WriteV,
    WriteVFixed,
};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    ControlMessagesBuf, Cqe, FileUpdates, FilesAt, FutexFlags, FutexWaitV, MsgHdr, MsgHdrMut,
    MsgLayout, RecvMsgOut, Ring, SendFlags, SlotUpdate, SockAddr, SockOpt,
};
use uring_tests::{
    PATIENCE, complete, pattern, plain_buf_ring, require_kernel, require_op, skip, tcp_pair,
};

/// The page size of x86-64 and of every page this file maps.
const PAGE: usize = 4096;

/// `UIO_MAXIOV`: the most iovecs one vectored op takes.
const UIO_MAXIOV: usize = 1024;

// ---------------------------------------------------------------------
// Guard pages
// ---------------------------------------------------------------------

/// The last `n` bytes before a guard page that is never unmapped, holding
/// `bytes`: a `'static` buffer for the reactor's ops.
fn static_tail(bytes: &[u8]) -> &'static [u8] {
    let mem = Guard::new(bytes.len()).leak();
    let at = mem.len() - bytes.len();
    mem[at..].copy_from_slice(bytes);
    &mem[at..]
}

// ---------------------------------------------------------------------
// An allocator that puts what the library allocates at a guard page
// ---------------------------------------------------------------------

/// The address space the armed allocations come from.
const ARENA: usize = 256 << 20;

/// The system allocator, except on a thread that armed it: there each
/// allocation of at most a page's alignment ends at a `PROT_NONE` page, in
/// an arena of its own (freed allocations go back to `PROT_NONE`, never
/// reused).
struct GuardAlloc;

static ARENA_BASE: AtomicUsize = AtomicUsize::new(0);
static ARENA_NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

#[global_allocator]
static ALLOC: GuardAlloc = GuardAlloc;

impl GuardAlloc {
    fn armed() -> bool {
        ARMED.try_with(Cell::get).unwrap_or(false)
    }

    /// The arena's base, mapped on first use; 0 if it cannot be.
    fn arena() -> usize {
        let base = ARENA_BASE.load(Ordering::Acquire);
        if base != 0 {
            return base;
        }
        // SAFETY: a fresh reservation of address space, no access.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ARENA,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return 0;
        }
        match ARENA_BASE.compare_exchange(0, map as usize, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => map as usize,
            Err(other) => {
                // SAFETY: the reservation just made, which no one uses.
                unsafe { libc::munmap(map, ARENA) };
                other
            }
        }
    }

    fn in_arena(ptr: *mut u8) -> bool {
        let base = ARENA_BASE.load(Ordering::Acquire);
        base != 0 && (base..base + ARENA).contains(&(ptr as usize))
    }

    /// `layout` ending at a guard page of the arena; null if it does not
    /// fit.
    fn guarded(layout: Layout) -> *mut u8 {
        if layout.align() > PAGE {
            return std::ptr::null_mut();
        }
        let base = GuardAlloc::arena();
        let pages = layout.size().div_ceil(PAGE);
        let off = ARENA_NEXT.fetch_add((pages + 1) * PAGE, Ordering::Relaxed);
        if base == 0 || off + (pages + 1) * PAGE > ARENA {
            return std::ptr::null_mut();
        }
        let start = base + off;
        // SAFETY: pages of the arena no other allocation was given.
        let rc = unsafe {
            libc::mprotect(
                start as *mut libc::c_void,
                pages * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            return std::ptr::null_mut();
        }
        let end = start + pages * PAGE;
        ((end - layout.size()) & !(layout.align() - 1)) as *mut u8
    }
}

// SAFETY: every pointer handed out is either the system allocator's, or
// memory of the arena made readable and writable for this allocation
// alone, of the layout's size and alignment; each is freed by the
// allocator that made it (the arena's by address).
unsafe impl GlobalAlloc for GuardAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if GuardAlloc::armed() {
            let ptr = GuardAlloc::guarded(layout);
            if !ptr.is_null() {
                return ptr;
            }
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if GuardAlloc::in_arena(ptr) {
            let start = ptr as usize & !(PAGE - 1);
            let end = (ptr as usize + layout.size()).next_multiple_of(PAGE);
            // SAFETY: the pages of this allocation alone; no access to
            // freed memory is ever made again.
            unsafe { libc::mprotect(start as *mut libc::c_void, end - start, libc::PROT_NONE) };
            return;
        }
        // SAFETY: the system allocator made it.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !GuardAlloc::in_arena(ptr) && !GuardAlloc::armed() {
            // SAFETY: the system allocator made it; the caller's sizes.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees a valid size for the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a non-zero size, as the caller guarantees.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both allocations hold at least the bytes copied, and
            // are distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

/// Runs `f` with this thread's allocations put at guard pages.
fn at_guard_pages<R>(f: impl FnOnce() -> R) -> R {
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            ARMED.with(|a| a.set(false));
        }
    }
    ARMED.with(|a| a.set(true));
    let _disarm = Disarm;
    f()
}

// ---------------------------------------------------------------------
// Running ops
// ---------------------------------------------------------------------

/// Pushes `op` in a scope and returns its completions up to its last (the
/// one without `IORING_CQE_F_MORE`: a zero-copy send's notification).
fn run_all<'r, S>(ring: &'r mut Ring, op: S) -> Vec<Cqe>
where
    S: uring::Submission + uring::Scoped + 'r,
{
    ring.scope(|s| {
        if s.push(op).is_err() {
            panic!("the submission queue is full");
        }
        let mut out = Vec::new();
        loop {
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("no completion after {PATIENCE:?}: {e}"));
            let mut last = false;
            for cqe in s.completions() {
                assert!(cqe.is_scope_op(), "another op's completion");
                let cqe = cqe.cqe();
                last |= !cqe.has_more();
                out.push(cqe);
            }
            if last {
                return out;
            }
        }
    })
}

/// The results of a zero-copy send's completions: the count, then the
/// notification's 0.
fn zc_results(cqes: &[Cqe]) -> Vec<i32> {
    if let [send, notif] = cqes {
        assert!(send.has_more() && notif.is_notification(), "{cqes:?}");
    }
    cqes.iter().map(Cqe::res).collect()
}

/// The whole content of `file`.
fn contents(file: &mut std::fs::File) -> Vec<u8> {
    let mut out = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut out).unwrap();
    out
}

/// Reads exactly `n` bytes from `stream`, and checks nothing more came.
fn read_exactly(stream: &mut impl std::io::Read, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    stream.read_exact(&mut got).unwrap();
    got
}

/// `-errno` of a failed system call's `rc`, or `rc`.
fn sys_result(rc: libc::c_int) -> i32 {
    if rc < 0 {
        -std::io::Error::last_os_error().raw_os_error().unwrap()
    } else {
        rc
    }
}

// ---------------------------------------------------------------------
// Writes and sends of bytes
// ---------------------------------------------------------------------

/// A write of a slice that ends at a guard page takes exactly the slice:
/// lengths 0 to 64, a page, two pages, each appended to a file that then
/// holds exactly those bytes in order; an empty slice at the guard page's
/// first byte writes nothing and succeeds. The same slices written by the
/// reactor, as `'static` buffers of leaked guarded memory, and by a one-
/// iovec `WriteV`, land the same.
#[test]
fn writes_take_exactly_the_bytes_that_end_at_a_guard_page() {
    use uring::reactor::ops::Write as ReactorWrite;
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let mut mem = Guard::new(2 * PAGE);
    let mut expect = Vec::new();
    let lens: Vec<usize> = (0..=64).chain([PAGE - 1, PAGE, 2 * PAGE]).collect();
    for (i, &len) in lens.iter().enumerate() {
        let data = pattern(len, i as u8);
        let buf = mem.tail_of(&data);
        let at = expect.len() as u64;
        let cqe = complete(&mut ring, Write::new(&file, &*buf).offset(at));
        assert_eq!(cqe.res(), len as i32, "{len} bytes: {cqe:?}");
        expect.extend_from_slice(&data);
        let at = expect.len() as u64;
        let iov = [IoSlice::new(buf)];
        let cqe = complete(&mut ring, WriteV::new(&file, &iov[..]).offset(at));
        assert_eq!(cqe.res(), len as i32, "{len} bytes, vectored: {cqe:?}");
        expect.extend_from_slice(&data);
    }
    assert_eq!(contents(&mut file), expect);

    let reactor = Reactor::new().unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let fd = SharedFd::new(file.try_clone().unwrap());
    let mut expect = Vec::new();
    for len in [0usize, 1, 7, 64, PAGE] {
        let data = pattern(len, len as u8);
        let buf = static_tail(&data);
        let (r, back) = reactor
            .run_until(reactor.op(ReactorWrite::new(&fd, buf, expect.len() as u64)))
            .unwrap();
        assert_eq!(r.unwrap() as usize, len);
        assert_eq!(back.as_ptr(), buf.as_ptr());
        expect.extend_from_slice(&data);
    }
    drop(reactor);
    assert_eq!(contents(&mut file), expect);
}

/// `count` buffers of lengths 0 to 5 in turn, laid out one after another
/// so that the last ends at a guard page, and their iovecs in an array
/// that ends at another: `(iovec memory, data memory, the bytes in order)`.
fn guarded_iovecs(count: usize, seed: u8) -> (Guard, Guard, Vec<u8>) {
    let lens: Vec<usize> = (0..count).map(|i| i % 6).collect();
    let total: usize = lens.iter().sum();
    let mut data = Guard::new(total);
    let bytes = pattern(total, seed);
    let base = data.tail_of(&bytes).as_ptr();
    let mut iovecs = Guard::new(count * size_of::<IoSlice<'_>>());
    let mut at = 0;
    let mut list = Vec::with_capacity(count);
    for len in lens {
        // SAFETY: `len` bytes of the tail just written, which stays mapped
        // (and unchanged) for as long as the caller keeps `data`.
        list.push(IoSlice::new(unsafe {
            std::slice::from_raw_parts(base.add(at), len)
        }));
        at += len;
    }
    iovecs.place(list);
    (iovecs, data, bytes)
}

/// The `count` iovecs [`guarded_iovecs`] placed in `mem`, pointing into
/// `data`.
fn iovecs_of<'m>(mem: &'m mut Guard, data: &'m Guard, count: usize) -> &'m [IoSlice<'m>] {
    let _ = data;
    let tail = mem.tail(count * size_of::<IoSlice<'_>>());
    // SAFETY: `count` iovecs were placed there, pointing into `data`, which
    // is borrowed (mapped and unchanged) for as long as they are.
    unsafe { std::slice::from_raw_parts(tail.as_ptr().cast::<IoSlice<'m>>(), count) }
}

/// Vectored writes and sends read the iovec array up to its count and each
/// buffer up to its length, both ending at guard pages: 1, 2, 7 and
/// `UIO_MAXIOV` iovecs (of lengths 0 to 5) are written whole and in order;
/// an empty array at the guard page's first byte writes nothing; one more
/// than `UIO_MAXIOV` is refused (`EINVAL`) without a byte written. `SendV`
/// and `SendZcV` (6.17) deliver exactly the same bytes to the peer.
#[test]
fn vectored_writes_and_sends_read_each_iovec_and_the_array_to_its_count() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let mut expect = Vec::new();
    for (count, seed) in [(1usize, 1u8), (2, 2), (7, 3), (UIO_MAXIOV, 4), (0, 5)] {
        let (mut iov_mem, data_mem, bytes) = guarded_iovecs(count, seed);
        let iovecs = iovecs_of(&mut iov_mem, &data_mem, count);
        let at = expect.len() as u64;
        let cqe = complete(&mut ring, WriteV::new(&file, iovecs).offset(at));
        assert_eq!(cqe.res(), bytes.len() as i32, "{count} iovecs: {cqe:?}");
        expect.extend_from_slice(&bytes);
    }
    let (mut iov_mem, data_mem, _) = guarded_iovecs(UIO_MAXIOV + 1, 6);
    let iovecs = iovecs_of(&mut iov_mem, &data_mem, UIO_MAXIOV + 1);
    let cqe = complete(&mut ring, WriteV::new(&file, iovecs).offset(1 << 20));
    assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    assert_eq!(contents(&mut file), expect);

    let (client, mut server) = tcp_pair();
    for count in [1usize, 7, UIO_MAXIOV] {
        let (mut iov_mem, data_mem, bytes) = guarded_iovecs(count, count as u8);
        let iovecs = iovecs_of(&mut iov_mem, &data_mem, count);
        if require_op::<SendV<'static, 'static>>(&ring) && require_kernel(6, 17, "SendV") {
            let cqe = complete(&mut ring, SendV::new(&client, iovecs));
            assert_eq!(cqe.res(), bytes.len() as i32, "SendV of {count}: {cqe:?}");
            assert_eq!(read_exactly(&mut server, bytes.len()), bytes);
        }
        if require_kernel(6, 17, "SendZcV") {
            let cqes = run_all(&mut ring, SendZcV::new(&client, iovecs));
            assert_eq!(zc_results(&cqes), [bytes.len() as i32, 0], "SendZcV");
            assert_eq!(read_exactly(&mut server, bytes.len()), bytes);
        }
    }
}

/// Fixed-buffer writes and sends read the registered buffer's pages for
/// their slice only: a buffer of two pages ending at a guard page,
/// registered as two buffers of a page each; `WriteFixed` of its last 0
/// to 64 bytes and of the whole second page; `WriteVFixed` of
/// `UIO_MAXIOV` iovecs of 4 bytes, the last ending at the buffer's end,
/// from an iovec array that ends at a guard page; `SendZcFixed` and
/// `SendMsgZcFixed` of the last bytes. A slice across the two buffers'
/// boundary, named by either, is refused (`EFAULT`) and writes nothing.
#[test]
fn fixed_writes_and_sends_read_to_the_registered_end_and_no_further() {
    let _watch = uring_tests::watchdog();
    let mut mem = Guard::new(2 * PAGE);
    mem.bytes().copy_from_slice(&pattern(2 * PAGE, 41));
    let all = mem.bytes().to_vec();
    let mut ring = Ring::new(8).unwrap();
    let table = {
        let (low, high) = mem.bytes().split_at_mut(PAGE);
        let bufs = [IoSliceMut::new(low), IoSliceMut::new(high)];
        // SAFETY: `mem` outlives the ring (made before it, dropped after),
        // and is only read while registered.
        unsafe { ring.register_buffers(&bufs) }.unwrap()
    };
    let (low, high) = (table.get(0).unwrap(), table.get(1).unwrap());
    let mut file = tempfile::tempfile().unwrap();
    let mut expect = Vec::new();
    for len in (0..=64).chain([PAGE]) {
        let at = expect.len() as u64;
        let buf = mem.tail(len);
        let cqe = complete(&mut ring, WriteFixed::new(&file, &*buf, high).offset(at));
        assert_eq!(cqe.res(), len as i32, "last {len} bytes: {cqe:?}");
        expect.extend_from_slice(&all[2 * PAGE - len..]);
    }
    for index in [low, high] {
        let across = &mem.bytes()[PAGE - 8..PAGE + 8];
        let cqe = complete(
            &mut ring,
            WriteFixed::new(&file, across, index).offset(1 << 20),
        );
        assert_eq!(cqe.res(), -libc::EFAULT, "{index:?}: {cqe:?}");
    }
    if require_op::<WriteVFixed<'static, 'static>>(&ring) {
        let base = mem.bytes().as_ptr();
        let start = 2 * PAGE - 4 * UIO_MAXIOV;
        let list: Vec<IoSlice<'_>> = (0..UIO_MAXIOV)
            .map(|i| {
                // SAFETY: 4 bytes of `mem`, which outlives every use below
                // and is not written meanwhile.
                IoSlice::new(unsafe { std::slice::from_raw_parts(base.add(start + 4 * i), 4) })
            })
            .collect();
        let mut arr = Guard::new(UIO_MAXIOV * size_of::<IoSlice<'_>>());
        let iovecs = arr.place(list);
        let at = expect.len() as u64;
        let cqe = complete(
            &mut ring,
            WriteVFixed::new(&file, &*iovecs, high).offset(at),
        );
        assert_eq!(cqe.res(), 4 * UIO_MAXIOV as i32, "{cqe:?}");
        expect.extend_from_slice(&all[start..]);
    }
    assert_eq!(contents(&mut file), expect);

    let (client, mut server) = tcp_pair();
    for len in [1usize, 64, PAGE] {
        let buf = &mem.bytes()[2 * PAGE - len..];
        let cqes = run_all(&mut ring, SendZcFixed::new(&client, buf, high));
        assert_eq!(zc_results(&cqes), [len as i32, 0], "SendZcFixed of {len}");
        assert_eq!(read_exactly(&mut server, len), &all[2 * PAGE - len..]);
    }
    if require_op::<SendMsgZcFixed<'static, 'static>>(&ring)
        && require_kernel(6, 15, "SendMsgZcFixed")
    {
        let bytes = mem.bytes();
        let (first, last) = bytes.split_at(2 * PAGE - 10);
        let iov = [IoSlice::new(&first[PAGE..PAGE + 3]), IoSlice::new(last)];
        let msg = MsgHdr::new(&iov);
        let cqes = run_all(&mut ring, SendMsgZcFixed::new(&client, &msg, high));
        assert_eq!(zc_results(&cqes), [13, 0], "SendMsgZcFixed");
        let mut want = all[PAGE..PAGE + 3].to_vec();
        want.extend_from_slice(&all[2 * PAGE - 10..]);
        assert_eq!(read_exactly(&mut server, 13), want);
    }
    drop(ring);
}

// ---------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------

/// A Unix-domain datagram socket bound to `addr`.
fn unix_bound(addr: &UnixAddr) -> UnixDatagram {
    let sock = UnixDatagram::bind_addr(addr).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock
}

/// A Unix-domain address that fills `sun_path` (108 bytes, no NUL), as the
/// kernel reports a socket bound to such a path (`std` makes none, the
/// library's `SockAddr::unix` neither): a socket of `kind` bound to a file
/// of `dir`, listening if it is a stream socket, and its address.
fn full_sun_path(dir: &std::path::Path, kind: libc::c_int) -> (OwnedFd, UnixAddr) {
    let dir = dir.as_os_str().as_bytes();
    let mut path = dir.to_vec();
    path.push(b'/');
    path.resize(108, b'p');
    let fd = uring_tests::socket(libc::AF_UNIX, kind).unwrap();
    // SAFETY: all-zero bytes are a valid `sockaddr_un`.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in sun.sun_path.iter_mut().zip(&path) {
        *dst = src as libc::c_char;
    }
    // SAFETY: the address is 110 valid bytes of `sun`, which outlives the
    // call; the descriptor is open.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const sun).cast(), 110) };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    if kind == libc::SOCK_STREAM {
        // SAFETY: an open socket.
        assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), 8) }, 0);
    }
    let addr = UnixDatagram::from(fd.try_clone().unwrap())
        .local_addr()
        .unwrap();
    assert_eq!(addr.as_pathname().unwrap().as_os_str().len(), 108);
    (fd, addr)
}

/// Every address the library builds is read within its length, from a
/// `SockAddr` that ends at a guard page: `Send`'s and `SendZc`'s
/// destination on unconnected UDP sockets (IPv4, IPv6: the datagram
/// arrives from the sender) and Unix datagram sockets bound to abstract
/// names of every length from 1 to 107 bytes (each arrives, and `Bind` of
/// each name binds exactly it); `Bind` of the unnamed address (2 bytes:
/// the kernel picks a 5-byte abstract name); `Connect` and `Bind` of
/// paths of 107 bytes and NUL, and of 108 bytes without one (as the
/// kernel reported the peer's); `Connect` and `Bind` of IP addresses.
#[test]
fn send_destinations_connect_and_bind_read_each_address_within_its_length() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(100, 51);
    let mut buf_mem = Guard::new(data.len());
    let mut addr_mem = Guard::new(size_of::<SockAddr>());
    for ip in ["127.0.0.1:0", "[::1]:0"] {
        let (Ok(tx), Ok(rx)) = (UdpSocket::bind(ip), UdpSocket::bind(ip)) else {
            skip(format_args!("cannot bind UDP on {ip}"));
            continue;
        };
        rx.set_read_timeout(Some(PATIENCE)).unwrap();
        let dest = &*addr_mem.place_one(SockAddr::from(rx.local_addr().unwrap()));
        let buf = &*buf_mem.tail_of(&data);
        let cqe = complete(&mut ring, Send::new(&tx, buf).dest(Some(dest)));
        assert_eq!(cqe.res(), 100, "{ip}: {cqe:?}");
        let cqes = run_all(&mut ring, SendZc::new(&tx, buf).dest(Some(dest)));
        assert_eq!(zc_results(&cqes), [100, 0], "{ip}");
        for _ in 0..2 {
            let mut got = [0u8; 200];
            let (n, from) = rx.recv_from(&mut got).unwrap();
            assert_eq!((&got[..n], from), (&data[..], tx.local_addr().unwrap()));
        }
    }

    let can_bind = require_op::<Bind<'static>>(&ring);
    let tx = UnixDatagram::unbound().unwrap();
    for len in 1..=107usize {
        let name = pattern(len, len as u8);
        let named = UnixAddr::from_abstract_name(&name).unwrap();
        let rx = unix_bound(&named);
        let dest = &*addr_mem.place_one(SockAddr::from(&named));
        assert_eq!(dest.len() as usize, 3 + len);
        let buf = &*buf_mem.tail_of(&data);
        let cqe = complete(&mut ring, Send::new(&tx, buf).dest(Some(dest)));
        assert_eq!(cqe.res(), 100, "abstract name of {len}: {cqe:?}");
        let mut got = [0u8; 200];
        assert_eq!(rx.recv(&mut got).unwrap(), 100);
        assert_eq!(&got[..100], &data[..]);
        drop(rx);
        if can_bind {
            let sock = UnixDatagram::unbound().unwrap();
            let cqe = complete(&mut ring, Bind::new(&sock, dest));
            assert_eq!(cqe.res(), 0, "bind to an abstract name of {len}: {cqe:?}");
            let bound = sock.local_addr().unwrap();
            assert_eq!(bound.as_abstract_name(), Some(&name[..]), "{len}");
        }
    }
    if can_bind {
        let unnamed = UnixDatagram::unbound().unwrap().local_addr().unwrap();
        let addr = &*addr_mem.place_one(SockAddr::from(&unnamed));
        assert_eq!(addr.len(), 2);
        let sock = UnixDatagram::unbound().unwrap();
        let cqe = complete(&mut ring, Bind::new(&sock, addr));
        assert_eq!(cqe.res(), 0, "autobind: {cqe:?}");
        let name = sock.local_addr().unwrap();
        assert_eq!(name.as_abstract_name().map(<[u8]>::len), Some(5));
    }

    let dir = uring_tests::test_dir!();
    let (listener, full) = full_sun_path(dir.path(), libc::SOCK_STREAM);
    let listener = UnixListener::from(listener);
    let short = dir
        .path()
        .join("s".repeat(106 - dir.path().as_os_str().len()));
    assert_eq!(short.as_os_str().len(), 107);
    let short_listener = UnixListener::bind(&short).unwrap();
    for (what, addr, listener) in [
        ("108 bytes", SockAddr::from(&full), &listener),
        (
            "107 bytes",
            SockAddr::unix(&short).unwrap(),
            &short_listener,
        ),
    ] {
        assert_eq!(addr.len(), 110, "{what}");
        let addr = &*addr_mem.place_one(addr);
        let sock = uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM).unwrap();
        let cqe = complete(&mut ring, Connect::new(&sock, addr));
        assert_eq!(cqe.res(), 0, "connect to a path of {what}: {cqe:?}");
        let (_, from) = listener.accept().unwrap();
        assert!(from.is_unnamed());
        let peer = UnixStream::from(sock).peer_addr().unwrap();
        assert_eq!(
            peer.as_pathname(),
            listener.local_addr().unwrap().as_pathname()
        );
        if can_bind {
            let path = listener
                .local_addr()
                .unwrap()
                .as_pathname()
                .unwrap()
                .to_owned();
            std::fs::remove_file(&path).unwrap();
            let sock = UnixDatagram::unbound().unwrap();
            let cqe = complete(&mut ring, Bind::new(&sock, addr));
            assert_eq!(cqe.res(), 0, "bind to a path of {what}: {cqe:?}");
            let bound = sock.local_addr().unwrap();
            assert_eq!(bound.as_pathname(), Some(path.as_path()), "{what}");
        }
    }

    for ip in ["127.0.0.1:0", "[::1]:0"] {
        let Ok(listener) = TcpListener::bind(ip) else {
            continue;
        };
        let target = listener.local_addr().unwrap();
        let addr = &*addr_mem.place_one(SockAddr::from(target));
        let domain = if target.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let sock = TcpStream::from(uring_tests::socket(domain, libc::SOCK_STREAM).unwrap());
        let cqe = complete(&mut ring, Connect::new(&sock, addr));
        assert_eq!(cqe.res(), 0, "connect to {target}: {cqe:?}");
        assert_eq!(sock.peer_addr().unwrap(), target);
        let (_, from) = listener.accept().unwrap();
        assert_eq!(from, sock.local_addr().unwrap());
        if can_bind {
            let local = SocketAddr::new(target.ip(), 0);
            let addr = &*addr_mem.place_one(SockAddr::from(local));
            let sock = uring_tests::socket(domain, libc::SOCK_DGRAM).unwrap();
            let cqe = complete(&mut ring, Bind::new(&sock, addr));
            assert_eq!(cqe.res(), 0, "bind to {local}: {cqe:?}");
            let bound = UdpSocket::from(sock).local_addr().unwrap();
            assert_eq!(bound.ip(), target.ip());
            assert_ne!(bound.port(), 0);
        }
    }
}

// ---------------------------------------------------------------------
// Messages and control records
// ---------------------------------------------------------------------

/// The records of `control` without the padding after the last one: the
/// control length ends where the last record's data does.
fn unpadded(control: &ControlMessagesBuf) -> Vec<u8> {
    let bytes = control.as_bytes();
    let base = bytes.as_ptr() as usize;
    let end = control
        .iter()
        .map(|m| m.data().as_ptr() as usize - base + m.data().len())
        .max()
        .unwrap_or(0);
    bytes[..end].to_vec()
}

/// One datagram from `fd` with its ancillary records, by `recvmsg(2)`.
fn recv_with_control(fd: &impl AsRawFd) -> (Vec<u8>, Vec<Record>) {
    uring_tests::recvmsg_records(fd, 0, 2048).unwrap_or_else(|e| panic!("recvmsg: {e}"))
}

/// The `int` data of the record `(level, kind)` among `records`.
fn int_record(records: &[Record], level: i32, kind: i32) -> Option<i32> {
    let (_, _, data) = records.iter().find(|r| r.0 == level && r.1 == kind)?;
    Some(i32::from_ne_bytes(data.get(..4)?.try_into().ok()?))
}

/// The memory of one `SendMsg`, each part ending at a guard page of its
/// own: the payload, the iovec array, the destination, the control records
/// and the header.
struct MsgParts {
    payload: Guard,
    iov: Guard,
    name: Guard,
    control: Guard,
    header: Guard,
}

impl MsgParts {
    fn new() -> MsgParts {
        MsgParts {
            payload: Guard::new(PAGE),
            iov: Guard::new(size_of::<IoSlice<'_>>()),
            name: Guard::new(size_of::<SockAddr>()),
            control: Guard::new(PAGE),
            header: Guard::new(size_of::<MsgHdr<'_>>()),
        }
    }

    /// A header sending `payload` (to `dest`) with `control`, every part at
    /// its guard page.
    fn msg(&mut self, payload: &[u8], dest: Option<SockAddr>, control: &[u8]) -> &MsgHdr<'_> {
        let payload = &*self.payload.tail_of(payload);
        let iov = &*self.iov.place(vec![IoSlice::new(payload)]);
        let mut msg = MsgHdr::new(iov);
        if let Some(dest) = dest {
            msg = msg.to(self.name.place_one(dest));
        }
        let msg = msg
            .control(self.control.tail_of(control))
            .expect("records the library lets through");
        self.header.place_one(msg)
    }
}

/// `SendMsg` reads its header, its iovecs, its destination and every kind
/// of control record `MsgHdr::control` lets through, each ending at a guard
/// page, padded or not after the last record, and the kernel acts on each
/// record's exact bytes: over IPv4, `IP_TTL` 7 and `IP_TOS` 0x10 reach the
/// receiver (its `IP_RECVTTL` and `IP_RECVTOS` records), with `IP_PKTINFO`,
/// `IP_RETOPTS`, `SO_MARK`, `SO_PRIORITY`, `SO_TIMESTAMPING` and
/// `SCM_TXTIME` alongside, and `UDP_SEGMENT` of 40 cuts 100 bytes into
/// datagrams of 40, 40 and 20; over IPv6, `IPV6_HOPLIMIT` 9 and
/// `IPV6_TCLASS` 0x20 reach the receiver, with `IPV6_PKTINFO` and
/// `IPV6_DONTFRAG`; over a Unix socket, `SCM_CREDENTIALS` arrives as sent.
/// `SendMsgZc` of the same header delivers the same; an empty control
/// region and an empty iovec array at a guard page's first byte send an
/// empty datagram.
#[test]
fn sendmsg_reads_its_header_iovecs_name_and_every_plain_record_in_place() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut parts = MsgParts::new();
    let payload = pattern(100, 61);
    let int = |v: i32| v.to_ne_bytes();

    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(PATIENCE)).unwrap();
    uring_tests::set_int_option(&rx, libc::SOL_IP, libc::IP_RECVTTL, 1).unwrap();
    uring_tests::set_int_option(&rx, libc::SOL_IP, libc::IP_RECVTOS, 1).unwrap();
    let txtime = libc::sock_txtime {
        clockid: libc::CLOCK_MONOTONIC,
        flags: 0,
    };
    // SAFETY: the value is a `sock_txtime` that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            tx.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TXTIME,
            (&raw const txtime).cast(),
            size_of_val(&txtime) as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_TXTIME: {}", std::io::Error::last_os_error());
    let dest = SockAddr::from(rx.local_addr().unwrap());
    let pktinfo = [int(0), [127, 0, 0, 1], [0; 4]].concat();
    let mut v4 = ControlMessagesBuf::new();
    v4.push(libc::SOL_IP, libc::IP_TTL, &int(7))
        .push(libc::SOL_IP, libc::IP_TOS, &int(0x10))
        .push(libc::SOL_IP, libc::IP_PKTINFO, &pktinfo)
        .push(libc::SOL_IP, libc::IP_RETOPTS, &[1, 1, 1, 1])
        .push(libc::SOL_SOCKET, libc::SO_MARK, &int(5))
        .push(libc::SOL_SOCKET, libc::SO_PRIORITY, &int(3))
        .push(libc::SOL_SOCKET, libc::SO_TIMESTAMPING, &int(0))
        .push(libc::SOL_SOCKET, libc::SCM_TXTIME, &0u64.to_ne_bytes());
    for control in [v4.as_bytes().to_vec(), unpadded(&v4)] {
        let msg = parts.msg(&payload, Some(dest), &control);
        let cqe = complete(&mut ring, SendMsg::new(&tx, msg));
        assert_eq!(cqe.res(), 100, "{} control bytes: {cqe:?}", control.len());
        let cqes = run_all(&mut ring, SendMsgZc::new(&tx, msg));
        assert_eq!(zc_results(&cqes), [100, 0]);
        for _ in 0..2 {
            let (got, records) = recv_with_control(&rx);
            assert_eq!(got, payload);
            assert_eq!(int_record(&records, libc::SOL_IP, libc::IP_TTL), Some(7));
            let tos = records
                .iter()
                .find(|r| r.0 == libc::SOL_IP && r.1 == libc::IP_TOS);
            assert_eq!(tos.map(|r| r.2[0]), Some(0x10), "{records:?}");
        }
    }
    let mut gso = ControlMessagesBuf::new();
    gso.push(libc::SOL_UDP, libc::UDP_SEGMENT, &40u16.to_ne_bytes());
    for control in [gso.as_bytes().to_vec(), unpadded(&gso)] {
        let msg = parts.msg(&payload, Some(dest), &control);
        let cqe = complete(&mut ring, SendMsg::new(&tx, msg));
        assert_eq!(cqe.res(), 100, "UDP_SEGMENT: {cqe:?}");
        for cut in payload.chunks(40) {
            assert_eq!(recv_with_control(&rx).0, cut);
        }
    }
    let empty = {
        let iov = &*parts.iov.tail(0);
        // SAFETY: an empty slice holds no iovec.
        let iov: &[IoSlice<'_>] = unsafe { std::slice::from_raw_parts(iov.as_ptr().cast(), 0) };
        let msg = MsgHdr::new(iov).to(parts.name.place_one(dest));
        parts
            .header
            .place_one(msg.control(parts.control.tail(0)).unwrap())
    };
    let cqe = complete(&mut ring, SendMsg::new(&tx, &*empty));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(recv_with_control(&rx).0, b"");

    if let (Ok(tx), Ok(rx)) = (UdpSocket::bind("[::1]:0"), UdpSocket::bind("[::1]:0")) {
        rx.set_read_timeout(Some(PATIENCE)).unwrap();
        uring_tests::set_int_option(&rx, libc::SOL_IPV6, libc::IPV6_RECVHOPLIMIT, 1).unwrap();
        uring_tests::set_int_option(&rx, libc::SOL_IPV6, libc::IPV6_RECVTCLASS, 1).unwrap();
        let dest = SockAddr::from(rx.local_addr().unwrap());
        let pktinfo = [Ipv6Addr::LOCALHOST.octets().to_vec(), int(0).to_vec()].concat();
        let mut v6 = ControlMessagesBuf::new();
        v6.push(libc::SOL_IPV6, libc::IPV6_HOPLIMIT, &int(9))
            .push(libc::SOL_IPV6, libc::IPV6_TCLASS, &int(0x20))
            .push(libc::SOL_IPV6, libc::IPV6_PKTINFO, &pktinfo)
            .push(libc::SOL_IPV6, libc::IPV6_DONTFRAG, &int(1));
        for control in [v6.as_bytes().to_vec(), unpadded(&v6)] {
            let msg = parts.msg(&payload, Some(dest), &control);
            let cqe = complete(&mut ring, SendMsg::new(&tx, msg));
            assert_eq!(cqe.res(), 100, "IPv6: {cqe:?}");
            let (got, records) = recv_with_control(&rx);
            assert_eq!(got, payload);
            let hops = int_record(&records, libc::SOL_IPV6, libc::IPV6_HOPLIMIT);
            let class = int_record(&records, libc::SOL_IPV6, libc::IPV6_TCLASS);
            assert_eq!((hops, class), (Some(9), Some(0x20)), "{records:?}");
        }
    } else {
        skip("no IPv6 loopback: the IPv6 records are not sent");
    }

    let (tx, rx) = UnixDatagram::pair().unwrap();
    uring_tests::set_int_option(&rx, libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
    // SAFETY: these calls have no preconditions.
    let me = unsafe { [libc::getpid(), libc::getuid() as i32, libc::getgid() as i32] };
    let creds: Vec<u8> = me.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let mut unix = ControlMessagesBuf::new();
    unix.push(libc::SOL_IP, libc::IP_TTL, &int(7)).push(
        libc::SOL_SOCKET,
        libc::SCM_CREDENTIALS,
        &creds,
    );
    for control in [unix.as_bytes().to_vec(), unpadded(&unix)] {
        let msg = parts.msg(&payload, None, &control);
        let cqe = complete(&mut ring, SendMsg::new(&tx, msg));
        assert_eq!(cqe.res(), 100, "Unix: {cqe:?}");
        let (got, records) = recv_with_control(&rx);
        assert_eq!(got, payload);
        let sent = records
            .iter()
            .find(|r| (r.0, r.1) == (libc::SOL_SOCKET, libc::SCM_CREDENTIALS))
            .map(|r| r.2.clone());
        assert_eq!(sent, Some(creds.clone()));
    }
}

// ---------------------------------------------------------------------
// Socket options
// ---------------------------------------------------------------------

/// A socket of `domain`, `ty` and `protocol`, as a descriptor another
/// process may have handed over (through `SCM_RIGHTS`, which the reactor's
/// `RecvWithFds` takes as `OwnedFd`s, safely); `None` if this machine
/// makes none.
fn any_socket(domain: i32, ty: i32, protocol: i32) -> Option<OwnedFd> {
    uring_tests::socket_with(domain, ty, protocol).ok()
}

/// A way to make one socket of a kind, and what keeps it connected.
type MakeSocket = Box<dyn Fn() -> Option<(OwnedFd, Vec<OwnedFd>)>>;

/// Every kind of socket this machine makes: TCP, UDP, Unix, raw, ping,
/// MPTCP, UDP-Lite, SCTP; packet, netlink, XDP, vsock and crypto sockets.
/// Safe code names any of them to `SetSockOpt` as a std socket made from
/// the `OwnedFd`.
fn socket_kinds() -> Vec<(&'static str, MakeSocket)> {
    let raw = |domain, ty, protocol| -> MakeSocket {
        Box::new(move || any_socket(domain, ty, protocol).map(|fd| (fd, Vec::new())))
    };
    vec![
        (
            "tcp4 connected",
            Box::new(|| {
                let (client, server) = tcp_pair();
                Some((client.into(), vec![server.into()]))
            }),
        ),
        (
            "tcp6 listener",
            Box::new(|| {
                let l = TcpListener::bind("[::1]:0").ok()?;
                Some((l.into(), Vec::new()))
            }),
        ),
        (
            "udp4",
            Box::new(|| Some((UdpSocket::bind("127.0.0.1:0").ok()?.into(), Vec::new()))),
        ),
        (
            "udp6",
            Box::new(|| Some((UdpSocket::bind("[::1]:0").ok()?.into(), Vec::new()))),
        ),
        (
            "unix stream",
            Box::new(|| {
                let (a, b) = UnixStream::pair().ok()?;
                Some((a.into(), vec![b.into()]))
            }),
        ),
        ("unix dgram", raw(libc::AF_UNIX, libc::SOCK_DGRAM, 0)),
        (
            "raw4",
            raw(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP),
        ),
        (
            "raw6",
            raw(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6),
        ),
        (
            "ping4",
            raw(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
        ),
        (
            "mptcp4",
            raw(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_MPTCP),
        ),
        (
            "mptcp6",
            raw(libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_MPTCP),
        ),
        (
            "udplite4",
            raw(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDPLITE),
        ),
        (
            "sctp4",
            raw(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP),
        ),
        ("packet", raw(libc::AF_PACKET, libc::SOCK_DGRAM, 0)),
        (
            "netlink",
            raw(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE),
        ),
        ("xdp", raw(libc::AF_XDP, libc::SOCK_RAW, 0)),
        ("vsock", raw(libc::AF_VSOCK, libc::SOCK_STREAM, 0)),
        ("alg", raw(libc::AF_ALG, libc::SOCK_SEQPACKET, 0)),
    ]
}

/// The bytes an option's values are cut from (the value of length `n` is
/// the first `n`): a meaningful value for each option, zeros after it. A
/// name the kernel finds (`lo`, `reno`) rather than one it would load a
/// module for.
fn option_bytes(opt: SockOpt) -> Vec<u8> {
    // SAFETY: if_nametoindex reads a NUL-terminated name.
    let lo = unsafe { libc::if_nametoindex(c"lo".as_ptr()) } as i32;
    let mut value = match opt {
        SockOpt::SO_BINDTODEVICE => b"lo".to_vec(),
        SockOpt::TCP_CONGESTION => b"reno".to_vec(),
        SockOpt::SO_LINGER => [1i32.to_ne_bytes(), 5i32.to_ne_bytes()].concat(),
        SockOpt::SO_RCVTIMEO | SockOpt::SO_SNDTIMEO => {
            [1i64.to_ne_bytes(), 500_000i64.to_ne_bytes()].concat()
        }
        SockOpt::IP_ADD_MEMBERSHIP | SockOpt::IP_DROP_MEMBERSHIP => {
            [[239, 1, 2, 3], [127, 0, 0, 1], lo.to_ne_bytes()].concat()
        }
        SockOpt::IPV6_ADD_MEMBERSHIP | SockOpt::IPV6_DROP_MEMBERSHIP => {
            let group: Ipv6Addr = "ff02::1:3".parse().unwrap();
            [&group.octets()[..], &lo.to_ne_bytes()].concat()
        }
        _ => 1i32.to_ne_bytes().to_vec(),
    };
    value.resize(1 << 16, 0);
    value
}

/// `getsockopt(2)` of `opt` on `fd` into 256 bytes: `(result, bytes)`.
fn read_option(fd: &impl AsRawFd, opt: SockOpt) -> (i32, Vec<u8>) {
    let mut value = [0u8; 256];
    let mut len = value.len() as libc::socklen_t;
    // SAFETY: `value` has room for `len` bytes; `len` is writable.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            opt.level(),
            opt.name(),
            value.as_mut_ptr().cast(),
            &mut len,
        )
    };
    let rc = sys_result(rc);
    let len = if rc == 0 { len as usize } else { 0 };
    (rc, value[..len].to_vec())
}

/// The lengths each option's value is tried at: every one from 0 to 64,
/// a page, and 64 KiB.
fn option_lengths() -> Vec<usize> {
    (0..=64).chain([PAGE, 1 << 16]).collect()
}

/// Every option `SockOpt::PLAIN` names is read within its value, on every
/// kind of socket this machine makes (TCP, UDP, Unix, raw, ping, MPTCP,
/// UDP-Lite, and the families whose own levels these options' numbers do
/// not name: packet, netlink, XDP, vsock, crypto), values of every length
/// from 0 to 64 and of a page and 64 KiB each ending at a guard page: no
/// value is ever `EFAULT`, and each `SetSockOpt` completes exactly as
/// `setsockopt(2)` of the same bytes, in the same order, does on a twin
/// socket (the same success or the same clean error), after which every
/// option set reads back the same on both.
#[test]
fn every_plain_option_is_read_within_its_value_on_every_socket() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(128).unwrap();
    if !require_op::<SetSockOpt<'static>>(&ring) {
        return;
    }
    let lengths = option_lengths();
    let mut guards: Vec<Guard> = lengths.iter().map(|&n| Guard::new(n)).collect();
    let mut tried = 0;
    for (kind, make) in socket_kinds() {
        let Some(probe) = make() else {
            skip(format_args!("this machine makes no {kind} socket"));
            continue;
        };
        drop(probe);
        for &opt in SockOpt::PLAIN {
            let bytes = option_bytes(opt);
            let (a, _keep_a) = make().unwrap();
            let (b, _keep_b) = make().unwrap();
            let a = UnixDatagram::from(a);
            let values: Vec<&[u8]> = guards
                .iter_mut()
                .zip(&lengths)
                .map(|(g, &n)| &*g.tail_of(&bytes[..n]))
                .collect();
            let results = ring.scope(|s| {
                for (i, value) in values.iter().enumerate() {
                    let op = SetSockOpt::new(&a, opt, value).user_data(i as u64);
                    assert!(s.push(op).is_ok());
                }
                s.submit().unwrap();
                let mut results = vec![None; values.len()];
                let mut seen = 0;
                while seen < values.len() {
                    s.wait_timeout(1, PATIENCE).unwrap();
                    for cqe in s.completions() {
                        assert!(cqe.is_scope_op());
                        results[cqe.user_data() as usize] = Some(cqe.res());
                        seen += 1;
                    }
                }
                results
            });
            let mut set = false;
            for (&n, uring) in lengths.iter().zip(results) {
                let uring = uring.unwrap();
                // SAFETY: the value's `n` bytes outlive the call; `b` is
                // open.
                let sys = sys_result(unsafe {
                    libc::setsockopt(
                        b.as_raw_fd(),
                        opt.level(),
                        opt.name(),
                        bytes.as_ptr().cast(),
                        n as libc::socklen_t,
                    )
                });
                assert_ne!(uring, -libc::EFAULT, "{kind}: {opt:?} of {n} bytes");
                assert_eq!(
                    uring, sys,
                    "{kind}: {opt:?} of {n} bytes, against setsockopt"
                );
                set |= uring == 0;
                tried += 1;
            }
            if set {
                assert_eq!(
                    read_option(&a, opt),
                    read_option(&b, opt),
                    "{kind}: {opt:?} reads back differently"
                );
            }
        }
    }
    assert!(tried > 0);
}

/// A value longer than `INT_MAX` bytes (the kernel's `optlen` is an
/// `int`), of lazily mapped zeros ending at a guard page, is refused
/// (`EINVAL`) without a byte read, for every option; one of exactly
/// `INT_MAX` bytes is read for its first bytes alone, as a page-long one
/// is: the same result as `setsockopt(2)` of `INT_MAX` bytes.
#[test]
fn option_values_longer_than_an_int_are_refused_and_no_byte_read() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SetSockOpt<'static>>(&ring) {
        return;
    }
    let Some(mut mem) = Guard::map(1 << 31, true) else {
        skip("cannot map 2 GiB of address space");
        return;
    };
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let twin = UdpSocket::bind("127.0.0.1:0").unwrap();
    for &opt in SockOpt::PLAIN {
        let long = &*mem.tail(1 << 31);
        let cqe = complete(&mut ring, SetSockOpt::new(&udp, opt, long));
        assert_eq!(cqe.res(), -libc::EINVAL, "{opt:?} of 2^31 bytes: {cqe:?}");
        let max = &long[1..];
        let cqe = complete(&mut ring, SetSockOpt::new(&udp, opt, max));
        // SAFETY: `max` is `INT_MAX` readable bytes; `twin` is open.
        let sys = sys_result(unsafe {
            libc::setsockopt(
                twin.as_raw_fd(),
                opt.level(),
                opt.name(),
                max.as_ptr().cast(),
                i32::MAX as libc::socklen_t,
            )
        });
        assert_ne!(cqe.res(), -libc::EFAULT, "{opt:?} of INT_MAX bytes");
        assert_eq!(
            cqe.res(),
            sys,
            "{opt:?} of INT_MAX bytes, against setsockopt"
        );
    }
}

// ---------------------------------------------------------------------
// Paths, names and attributes
// ---------------------------------------------------------------------

/// A descriptor an op returned, owned from now on.
fn owned(res: i32) -> OwnedFd {
    assert!(res >= 0, "{}", std::io::Error::from_raw_os_error(-res));
    // SAFETY: the op made this descriptor for this process, and nothing
    // else owns it.
    unsafe { OwnedFd::from_raw_fd(res) }
}

/// Every path the `*at` ops read ends at its NUL, the last byte before a
/// guard page, and so does `OpenAt2`'s `open_how`: `MkdirAt`, `OpenAt`
/// (creating), `OpenAt2` (with `RESOLVE_BENEATH`), `Statx` (and of the
/// empty path with `AT_EMPTY_PATH`), `RenameAt`, `LinkAt`, `SymlinkAt`
/// (whose target reads back whole) and `UnlinkAt` each do what they
/// name. A path of 4095 bytes and its NUL resolves; one of 4096 is
/// `ENAMETOOLONG`; the empty path without `AT_EMPTY_PATH` is `ENOENT`.
#[test]
fn paths_and_open_how_are_read_to_their_end_at_a_guard_page() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let dir = uring_tests::test_dir!();
    let d = std::fs::File::open(dir.path()).unwrap();
    let (mut p, mut q) = (Guard::new(2 * PAGE), Guard::new(PAGE));

    let cqe = complete(&mut ring, MkdirAt::new(&d, p.cstr(b"sub")));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert!(dir.path().join("sub").is_dir());
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC;
    let cqe = complete(
        &mut ring,
        OpenAt::new(&d, p.cstr(b"sub/f"))
            .open_flags(flags)
            .mode(0o640),
    );
    let mut f = std::fs::File::from(owned(cqe.res()));
    f.write_all(b"contents").unwrap();
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH;
    let how = &*q.place_one(how);
    let cqe = complete(&mut ring, OpenAt2::new(&d, p.cstr(b"sub/f"), how));
    let mut f = std::fs::File::from(owned(cqe.res()));
    assert_eq!(contents(&mut f), b"contents");
    let cqe = complete(&mut ring, OpenAt2::new(&d, p.cstr(b"../f"), how));
    assert_eq!(cqe.res(), -libc::EXDEV, "RESOLVE_BENEATH was read: {cqe:?}");

    // SAFETY: all-zero bytes are a valid `statx`.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let cqe = complete(&mut ring, Statx::new(&d, p.cstr(b"sub/f"), &mut stx));
    assert_eq!((cqe.res(), stx.stx_size), (0, 8), "{cqe:?}");
    let cqe = complete(
        &mut ring,
        Statx::new(&f, p.cstr(b""), &mut stx).statx_flags(libc::AT_EMPTY_PATH),
    );
    assert_eq!((cqe.res(), stx.stx_size), (0, 8), "{cqe:?}");
    let cqe = complete(&mut ring, Statx::new(&d, p.cstr(b""), &mut stx));
    assert_eq!(cqe.res(), -libc::ENOENT, "{cqe:?}");

    let cqe = complete(
        &mut ring,
        RenameAt::new(&d, p.cstr(b"sub/f"), d.as_fd(), q.cstr(b"sub/g")),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let cqe = complete(
        &mut ring,
        LinkAt::new(&d, p.cstr(b"sub/g"), d.as_fd(), q.cstr(b"sub/h")),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let cqe = complete(
        &mut ring,
        SymlinkAt::new(&d, p.cstr(b"g"), q.cstr(b"sub/s")),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let target = std::fs::read_link(dir.path().join("sub/s")).unwrap();
    assert_eq!(target.as_os_str().as_bytes(), b"g");
    assert_eq!(
        std::fs::read(dir.path().join("sub/s")).unwrap(),
        b"contents"
    );
    let cqe = complete(&mut ring, UnlinkAt::new(&d, p.cstr(b"sub/h")));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert!(!dir.path().join("sub/h").exists());
    assert!(dir.path().join("sub/g").exists());

    for (len, want) in [
        (libc::PATH_MAX as usize - 1, 0),
        (libc::PATH_MAX as usize, -libc::ENAMETOOLONG),
    ] {
        let mut path = b"sub/".to_vec();
        while path.len() < len - 1 {
            path.extend_from_slice(b"./");
        }
        path.truncate(len - 1);
        if path.ends_with(b"/") {
            path.pop();
            path.extend_from_slice(b"/g");
        } else {
            path.push(b'g');
        }
        assert_eq!(path.len(), len);
        let cqe = complete(&mut ring, Statx::new(&d, p.cstr(&path), &mut stx));
        assert_eq!(cqe.res(), want, "a path of {len} bytes: {cqe:?}");
    }
}

/// `fsetxattr(2)` and its result, as the twin of an `FSetXattr`.
fn sys_fsetxattr(file: &impl AsRawFd, name: &CStr, value: &[u8]) -> i32 {
    // SAFETY: a NUL-terminated name and `value.len()` readable bytes.
    sys_result(unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// The attribute `name` of `file`: `(result, bytes)`.
fn get_xattr(file: &impl AsRawFd, name: &CStr) -> (i32, Vec<u8>) {
    let mut value = vec![0u8; 1 << 16];
    // SAFETY: a NUL-terminated name and room for `value.len()` bytes.
    let n = sys_result(unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        ) as libc::c_int
    });
    value.truncate(n.max(0) as usize);
    (n, value)
}

/// Attribute names and values are read within their lengths, each ending
/// at a guard page: `FSetXattr` and `SetXattr` of values of 0 to 64 bytes,
/// and of `XATTR_SIZE_MAX` (64 KiB) and one byte more, under names of 1 to
/// 255 bytes and of 256, complete as `fsetxattr(2)` of the same bytes does
/// on a twin file, and each value reads back the same from both.
#[test]
fn xattr_names_and_values_are_read_within_their_lengths() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FSetXattr<'static>>(&ring) {
        return;
    }
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("a");
    let file = std::fs::File::create(&path).unwrap();
    let twin = std::fs::File::create(dir.path().join("b")).unwrap();
    if sys_fsetxattr(&twin, c"user.probe", b"x") != 0 {
        skip(format_args!(
            "{} takes no user attributes: {}",
            dir.path().display(),
            std::io::Error::last_os_error()
        ));
        return;
    }
    let (mut n, mut v, mut pm) = (
        Guard::new(PAGE),
        Guard::new((1 << 16) + 1),
        Guard::new(PAGE),
    );
    let cpath = uring_tests::cpath(&path);
    let lens: Vec<usize> = (0..=64).chain([1 << 16, (1 << 16) + 1]).collect();
    for (i, &len) in lens.iter().enumerate() {
        let data = pattern(len, i as u8);
        let name_bytes = format!("user.v{len}");
        let name = n.cstr(name_bytes.as_bytes());
        let value = &*v.tail_of(&data);
        let by_path = i % 2 == 1;
        let cqe = if by_path {
            let p = pm.cstr(cpath.as_bytes());
            complete(&mut ring, SetXattr::new(p, name, value))
        } else {
            complete(&mut ring, FSetXattr::new(&file, name, value))
        };
        let sys = sys_fsetxattr(&twin, name, &data);
        assert_ne!(cqe.res(), -libc::EFAULT, "a value of {len}");
        assert_eq!(
            cqe.res(),
            sys,
            "a value of {len} ({cqe:?}), against fsetxattr"
        );
        assert_eq!(get_xattr(&file, name), get_xattr(&twin, name), "{len}");
        if sys == 0 {
            assert_eq!(get_xattr(&file, name).1, data);
        }
    }
    for len in [1usize, 5, 6, 128, 254, 255, 256] {
        let mut name_bytes = b"user.".to_vec();
        name_bytes.resize(len.max(5), b'n');
        let name = n.cstr(&name_bytes[..len]);
        let value = &*v.tail_of(b"v");
        let cqe = complete(&mut ring, FSetXattr::new(&file, name, value));
        let sys = sys_fsetxattr(&twin, name, b"v");
        assert_ne!(cqe.res(), -libc::EFAULT, "a name of {len}");
        assert_eq!(
            cqe.res(),
            sys,
            "a name of {len} ({cqe:?}), against fsetxattr"
        );
    }
}

// ---------------------------------------------------------------------
// Futexes and epoll
// ---------------------------------------------------------------------

/// Futex words are read at their 32 bits, and a vector of futexes up to
/// its count: a word that ends at a guard page waits (`FutexWait`
/// completes when `FutexWake` on it wakes one) or fails at once with
/// `EAGAIN` when it holds another value; vectors of 1, 2 and 128 entries
/// (`FUTEX_WAITV_MAX`) ending at a guard page, over words ending at one,
/// are read to their last entry: with the last word's value not held,
/// `EAGAIN`; with every value held, a wake of the last word completes the
/// wait with its index. Vectors of 0 and 129 entries are refused
/// (`EINVAL`).
#[test]
fn futex_words_and_vectors_are_read_at_their_width_and_count() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWaitv<'static>>(&ring) || !require_op::<FutexWait<'static>>(&ring) {
        return;
    }
    let mut mem = Guard::new(size_of::<AtomicU32>());
    let word = &*mem.place_one(AtomicU32::new(5));
    let cqe = complete(&mut ring, FutexWait::new(word, 6));
    assert_eq!(cqe.res(), -libc::EAGAIN, "{cqe:?}");
    let results = ring.scope(|s| {
        assert!(s.push(FutexWait::new(word, 5).user_data(1)).is_ok());
        s.submit().unwrap();
        assert!(s.push(FutexWake::new(word, 1).user_data(2)).is_ok());
        collect(s, 2)
    });
    assert_eq!(results, [(1, 0), (2, 1)]);

    let mut words_mem = Guard::new(129 * size_of::<AtomicU32>());
    let words = &*words_mem.place((0..129).map(AtomicU32::new).collect::<Vec<_>>());
    let mut vec_mem = Guard::new(129 * size_of::<FutexWaitV<'_>>());
    for count in [1usize, 2, 128] {
        let words = &words[129 - count..];
        for held in [false, true] {
            let waits: Vec<FutexWaitV<'_>> = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let value = w.load(Ordering::Relaxed);
                    let value = if i == count - 1 && !held {
                        value + 1
                    } else {
                        value
                    };
                    FutexWaitV::new(w, value, FutexFlags::PRIVATE)
                })
                .collect();
            let waits = &*vec_mem.place(waits);
            if !held {
                let cqe = complete(&mut ring, FutexWaitv::new(waits));
                assert_eq!(cqe.res(), -libc::EAGAIN, "{count} futexes: {cqe:?}");
                continue;
            }
            let results = ring.scope(|s| {
                assert!(s.push(FutexWaitv::new(waits).user_data(1)).is_ok());
                s.submit().unwrap();
                let last = &words[count - 1];
                let wake = FutexWake::new(last, 1).futex_flags(FutexFlags::PRIVATE);
                assert!(s.push(wake.user_data(2)).is_ok());
                collect(s, 2)
            });
            assert_eq!(results, [(1, count as i32 - 1), (2, 1)], "{count} futexes");
        }
    }
    for count in [0usize, 129] {
        let waits: Vec<FutexWaitV<'_>> = words[..count]
            .iter()
            .map(|w| FutexWaitV::new(w, 0, FutexFlags::PRIVATE))
            .collect();
        let waits = &*vec_mem.place(waits);
        let cqe = complete(&mut ring, FutexWaitv::new(waits));
        assert_eq!(cqe.res(), -libc::EINVAL, "{count} futexes: {cqe:?}");
    }
}

/// Submits what the scope holds and gathers `n` completions of its own, as
/// `(user_data, result)` sorted by `user_data`.
fn collect(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    let mut out = Vec::new();
    while out.len() < n {
        s.submit().unwrap();
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("no completion after {PATIENCE:?}: {e}"));
        for cqe in s.completions() {
            assert!(cqe.is_scope_op());
            out.push((cqe.user_data(), cqe.res()));
        }
    }
    out.sort_unstable();
    out
}

/// The events `epoll` reports now: `(events, data)`.
fn epoll_now(epoll: &OwnedFd) -> Vec<(u32, u64)> {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: room for 4 events; the descriptor is open.
    let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), 4, 0) };
    assert!(n >= 0);
    events[..n as usize]
        .iter()
        .map(|e| (e.events, e.u64))
        .collect()
}

/// `EpollCtl` reads one `epoll_event` (12 bytes, packed) that ends at a
/// guard page: the data of an `ADD` and of a `MOD` are what the set then
/// reports, whole; a `DEL` with an event at the guard page removes the
/// file. `EpollWait` reports into events that end at a guard page too.
#[test]
fn an_epoll_event_is_read_whole_and_no_further() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollCtl<'static>>(&ring) {
        return;
    }
    // SAFETY: epoll_create1 takes a flag and returns a new descriptor.
    let epoll = owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) });
    let (r, w) = uring_tests::pipe();
    std::fs::File::from(w.try_clone().unwrap())
        .write_all(b"x")
        .unwrap();
    let mut mem = Guard::new(PAGE);
    let add = &*mem.place_one(libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0x1122_3344_5566_7788,
    });
    let cqe = complete(
        &mut ring,
        EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, r.as_fd(), add),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(
        epoll_now(&epoll),
        [(libc::EPOLLIN as u32, 0x1122_3344_5566_7788)]
    );
    let modify = &*mem.place_one(libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 0x8877_6655_4433_2211,
    });
    let cqe = complete(
        &mut ring,
        EpollCtl::new(&epoll, libc::EPOLL_CTL_MOD, r.as_fd(), modify),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    if require_op::<EpollWait<'static>>(&ring) {
        let mut out = Guard::new(PAGE);
        let events = out.place(vec![libc::epoll_event { events: 0, u64: 0 }]);
        let cqe = complete(&mut ring, EpollWait::new(&epoll, events));
        assert_eq!(cqe.res(), 1, "{cqe:?}");
        let (ev, data) = (events[0].events, events[0].u64);
        assert_eq!((ev, data), (libc::EPOLLIN as u32, 0x8877_6655_4433_2211));
    }
    let del = &*mem.place_one(libc::epoll_event { events: 0, u64: 0 });
    let cqe = complete(
        &mut ring,
        EpollCtl::new(&epoll, libc::EPOLL_CTL_DEL, r.as_fd(), del),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    std::fs::File::from(w).write_all(b"y").unwrap();
    assert_eq!(epoll_now(&epoll), []);
}

// ---------------------------------------------------------------------
// Registrations and descriptor arrays
// ---------------------------------------------------------------------

/// The inode of the file at `slot` of `files` (installed as a descriptor
/// and asked), or `None` for an empty slot (`EBADF`).
fn slot_inode(ring: &mut Ring, files: &uring::FixedFiles, slot: u32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    let cqe = complete(ring, FixedFdInstall::new(files.get(slot).unwrap()));
    if cqe.res() == -libc::EBADF {
        return None;
    }
    let file = std::fs::File::from(owned(cqe.res()));
    Some(file.metadata().unwrap().ino())
}

/// The descriptor arrays the library builds itself, put at guard pages
/// by this binary's allocator while armed, are read to their count: the
/// tables `register_files` and `register_file_slots` make, the slots
/// `update_files` and `update_file_slots` (with a tag) change, and the
/// slots a `FilesUpdate` of `FileUpdates` fills, at a slot held or in
/// free slots the kernel picks and writes back, each hold exactly the file
/// named (or none); one of no descriptors is refused (`EINVAL`).
/// Restrictions (`register_restrictions`) from an array ending at a guard
/// page allow exactly the ops they list; an empty array at the guard
/// page's first byte allows none.
#[test]
fn descriptor_arrays_and_registrations_are_read_to_their_count() {
    use std::os::unix::fs::MetadataExt as _;
    use uring::ops::{Nop, Read};
    let _watch = uring_tests::watchdog();
    let files: Vec<std::fs::File> = (0..4).map(|_| tempfile::tempfile().unwrap()).collect();
    let ino: Vec<u64> = files.iter().map(|f| f.metadata().unwrap().ino()).collect();
    let fd = |i: usize| files[i].as_fd();
    let mut ring = Ring::new(8).unwrap();

    let table = at_guard_pages(|| ring.register_files(&[fd(0), fd(1), fd(2)])).unwrap();
    let got: Vec<_> = (0..3).map(|i| slot_inode(&mut ring, &table, i)).collect();
    assert_eq!(got, [Some(ino[0]), Some(ino[1]), Some(ino[2])]);
    ring.unregister_files(table).unwrap();

    let mut table =
        at_guard_pages(|| ring.register_file_slots(&[Some(fd(0)), None, Some(fd(2))])).unwrap();
    let got: Vec<_> = (0..3).map(|i| slot_inode(&mut ring, &table, i)).collect();
    assert_eq!(got, [Some(ino[0]), None, Some(ino[2])]);
    let n = at_guard_pages(|| ring.update_files(&mut table, 1, &[Some(fd(3))])).unwrap();
    assert_eq!(n, 1);
    assert_eq!(slot_inode(&mut ring, &table, 1), Some(ino[3]));

    let mut updates = at_guard_pages(|| FileUpdates::new(&[Some(fd(1)), None]));
    let at = FilesAt::from(table.get_mut(1).unwrap());
    let cqe = complete(&mut ring, FilesUpdate::new(&mut updates, at));
    assert_eq!(cqe.res(), 2, "{cqe:?}");
    let got: Vec<_> = (0..3).map(|i| slot_inode(&mut ring, &table, i)).collect();
    assert_eq!(got, [Some(ino[0]), Some(ino[1]), None]);
    let mut none = at_guard_pages(|| FileUpdates::new(&[]));
    let at = FilesAt::from(table.get_mut(0).unwrap());
    let cqe = complete(&mut ring, FilesUpdate::new(&mut none, at));
    assert_eq!(cqe.res(), -libc::EINVAL, "no descriptors: {cqe:?}");
    ring.unregister_files(table).unwrap();

    let table = ring.register_files_sparse(4).unwrap();
    let mut updates = at_guard_pages(|| FileUpdates::new(&[Some(fd(2)), Some(fd(3))]));
    let cqe = complete(&mut ring, FilesUpdate::new(&mut updates, FilesAt::ALLOC));
    assert_eq!(cqe.res(), 2, "{cqe:?}");
    let slots = updates.slots().to_vec();
    for (slot, want) in slots.iter().zip([ino[2], ino[3]]) {
        assert_eq!(slot_inode(&mut ring, &table, *slot as u32), Some(want));
    }
    let mut table = table;
    let updates = [
        SlotUpdate::Keep,
        SlotUpdate::Tagged(fd(0), 7),
        SlotUpdate::Empty,
    ];
    let n = at_guard_pages(|| ring.update_file_slots(&mut table, 0, &updates)).unwrap();
    assert_eq!(n, 3);
    let got: Vec<_> = (0..3).map(|i| slot_inode(&mut ring, &table, i)).collect();
    let keep = slots
        .iter()
        .position(|&s| s == 0)
        .map(|i| [ino[2], ino[3]][i]);
    assert_eq!(got, [keep, Some(ino[0]), None]);
    drop(ring);

    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let mut mem = Guard::new(PAGE);
    let rules = &*mem.place(vec![
        uring::Restriction::op::<Nop>(),
        uring::Restriction::op::<Write<'static>>(),
    ]);
    ring.register_restrictions(rules).unwrap();
    ring.enable().unwrap();
    assert_eq!(complete(&mut ring, Nop::new()).res(), 0);
    let file = tempfile::tempfile().unwrap();
    let cqe = complete(&mut ring, Write::new(&file, b"w"));
    assert_eq!(cqe.res(), 1, "{cqe:?}");
    let mut buf = [0u8; 1];
    let cqe = complete(&mut ring, Read::new(&file, &mut buf[..]));
    assert_eq!(cqe.res(), -libc::EACCES, "{cqe:?}");

    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_restrictions(&rules[2..]).unwrap();
    ring.enable().unwrap();
    let cqe = complete(&mut ring, Nop::new());
    assert_eq!(cqe.res(), -libc::EACCES, "no op is allowed: {cqe:?}");
}

/// The method itself: a kernel read of the first byte of a guard page
/// faults (`pwrite(2)` of it fails with `EFAULT`, and one running into it
/// writes the bytes before it alone), as does one of the byte after an
/// allocation made while the allocator is armed, which ends exactly at a
/// page's end.
#[test]
fn a_kernel_read_one_byte_past_a_lent_region_faults() {
    let file = tempfile::tempfile().unwrap();
    let write_at = |ptr: *const u8, len: usize| {
        // SAFETY: write(2) reads `len` bytes at `ptr` (or fewer, or fails
        // with EFAULT where they cannot be read); it writes nothing of this
        // process.
        sys_result(unsafe { libc::pwrite(file.as_raw_fd(), ptr.cast(), len, 0) as libc::c_int })
    };
    // Memcheck reports a system call given an address it knows to be
    // unmapped, as these are on purpose: there, only the layout is checked.
    let faults = !uring_tests::under_valgrind();
    if !faults {
        skip("under valgrind, the reads of guard pages are not made");
    }
    let mut mem = Guard::new(PAGE);
    let tail = mem.tail(8);
    assert_eq!(write_at(tail.as_ptr(), 8), 8);
    if faults {
        // A read across the guard page takes the bytes before it alone.
        assert_eq!(write_at(tail.as_ptr(), 9), 8);
        // SAFETY: one past the slice, an address only handed to the kernel.
        let past = unsafe { tail.as_ptr().add(8) };
        assert_eq!(write_at(past, 1), -libc::EFAULT);
    }
    for len in [1usize, 3, 12, 4096, 5000] {
        let v = at_guard_pages(|| vec![7u8; len]);
        let end = v.as_ptr() as usize + len;
        assert_eq!(
            end % PAGE,
            0,
            "an armed allocation of {len} ends at a page's end"
        );
        assert_eq!(write_at(v.as_ptr(), len), len as i32);
        if faults {
            assert_eq!(write_at(v.as_ptr(), len + 1), len as i32);
            assert_eq!(write_at(v.as_ptr().wrapping_add(len), 1), -libc::EFAULT);
        }
    }
    let v = Box::new([7u8; 3]);
    assert_ne!(
        (v.as_ptr() as usize + 3) % PAGE,
        0,
        "disarmed, the system's"
    );
}

// ---------------------------------------------------------------------
// Selected reads and multishot receives
// ---------------------------------------------------------------------

/// The structs of the ops that pick a provided buffer are read whole and
/// no further, each ending at a guard page: `ReadVSelect`'s one iovec (its
/// length caps the read at 10), `RecvMsgSelect`'s header and its one iovec
/// (whose 5 bytes cap the payload; with no iovec, an empty array at the
/// guard page's first byte, the payload fills up to the buffer), and
/// `RecvMsgMulti`'s layout (no name, no control: the payload right after
/// the `io_uring_recvmsg_out` header).
#[test]
fn selected_reads_and_multishot_headers_read_only_their_own_structs() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 3, 4, 64) else {
        return;
    };
    let data = pattern(100, 71);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let (mut a, mut b, mut c) = (Guard::new(PAGE), Guard::new(PAGE), Guard::new(PAGE));
    let cap = &*a.place_one(libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 10,
    });
    let got = ring.scope(|s| {
        assert!(s.push(ReadVSelect::new(&file, cap, pool.group())).is_ok());
        let mut cqe = first(s);
        assert_eq!(cqe.res(), 10, "{:?}", cqe.cqe());
        pool.claim(&mut cqe).unwrap().to_vec()
    });
    assert_eq!(got, &data[..10]);

    let mut room = [0u8; 5];
    for with_iovec in [true, false] {
        tx.send(&data[..30]).unwrap();
        let iovecs: &mut [IoSliceMut<'_>] = if with_iovec {
            b.place(vec![IoSliceMut::new(&mut room)])
        } else {
            b.place(Vec::new())
        };
        let msg = c.place_one(MsgHdrMut::new(iovecs));
        let want = if with_iovec { 5 } else { 30 };
        let got = ring.scope(|s| {
            assert!(
                s.push(RecvMsgSelect::new(&rx, &mut *msg, pool.group()))
                    .is_ok()
            );
            let mut cqe = first(s);
            assert_eq!(cqe.res(), want, "{:?}", cqe.cqe());
            pool.claim(&mut cqe).unwrap().to_vec()
        });
        assert_eq!(got, &data[..want as usize]);
    }
    assert_eq!(room, [0; 5], "the capping iovec's bytes are left alone");

    tx.send(&data[..20]).unwrap();
    let layout = &*a.place_one(MsgLayout::new(0, 0));
    let got = ring.scope(|s| {
        assert!(s.push(RecvMsgMulti::new(&rx, layout, pool.group())).is_ok());
        let mut cqe = first(s);
        assert!(cqe.res() > 0 && cqe.cqe().has_more(), "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        let out = RecvMsgOut::parse(&buf, layout).expect("a whole header");
        out.payload().to_vec()
    });
    assert_eq!(got, &data[..20]);
}

/// Submits and waits for the scope's next completion of its own.
fn first<'s>(s: &mut uring::Scope<'s, '_>) -> uring::ScopeCqe<'s> {
    s.submit().unwrap();
    s.wait_timeout(1, PATIENCE)
        .unwrap_or_else(|e| panic!("no completion after {PATIENCE:?}: {e}"));
    let cqe = s.completions().next().expect("a completion");
    assert!(cqe.is_scope_op());
    cqe
}

// ---------------------------------------------------------------------
// Bundles, and the reactor's owned memory
// ---------------------------------------------------------------------

/// A send flagged as a bundle over a borrowed buffer (`Send`) or borrowed
/// iovecs (`SendV`), each ending at a guard page, reads each byte once:
/// the peer receives exactly the bytes lent, once, and the op's last
/// completion ends it (a bundle without a provided buffer may post a last
/// completion of 0 after the count).
#[test]
fn bundled_sends_read_each_lent_byte_once() {
    use uring::ops::Nop;
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 10, "send bundles") {
        return;
    }
    // In a fast scope, and in one that tags every op (after a push outside
    // a scope).
    for tag_all in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        if tag_all {
            ring.push(Nop::new()).unwrap();
            ring.submit_and_wait(1).unwrap();
            let _ = ring.completions().count();
        }
        assert_eq!(ring.scope(|s| s.tags_every_op()), tag_all);
        bundled_sends_on(&mut ring);
    }
}

/// `bundled_sends_read_each_lent_byte_once` on `ring`.
fn bundled_sends_on(ring: &mut Ring) {
    let (client, mut server) = tcp_pair();
    let data = pattern(3000, 81);
    let mut mem = Guard::new(data.len());
    let buf = &*mem.tail_of(&data);
    let cqes = run_all(ring, Send::new(&client, buf).send_flags(SendFlags::BUNDLE));
    let sent: i32 = cqes.iter().map(Cqe::res).sum();
    assert_eq!(sent, 3000, "{cqes:?}");
    assert_eq!(read_exactly(&mut server, 3000), data);
    if require_kernel(6, 17, "SendV") {
        let (mut iov_mem, data_mem, bytes) = guarded_iovecs(UIO_MAXIOV, 82);
        let iovecs = iovecs_of(&mut iov_mem, &data_mem, UIO_MAXIOV);
        let cqes = run_all(
            ring,
            SendV::new(&client, iovecs).send_flags(SendFlags::BUNDLE),
        );
        let results: Vec<i32> = cqes.iter().map(Cqe::res).collect();
        assert!(results.iter().all(|&r| r >= 0), "{results:?}");
        assert_eq!(
            results.iter().sum::<i32>(),
            bytes.len() as i32,
            "{results:?}"
        );
        assert_eq!(read_exactly(&mut server, bytes.len()), bytes);
    }
    drop(client);
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"", "a byte was sent twice");
}

/// The reactor's ops read the owned memory they hold and no further:
/// `'static` buffers of leaked guarded memory for `WriteV`, `Send`,
/// `SendV`, `SendZc` and `SendTo` (to a Unix path), each delivered exactly;
/// `OpenAt` and `Statx` of paths whose `CString`s were allocated at guard
/// pages, their NUL the last byte.
#[test]
fn reactor_ops_read_exactly_the_memory_they_own() {
    use uring::reactor::ops::{
        OpenAt as ROpenAt, Send as RSend, SendTo as RSendTo, SendV as RSendV, SendZc as RSendZc,
        Statx as RStatx, WriteV as RWriteV,
    };
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let fd = SharedFd::new(file.try_clone().unwrap());
    let parts: Vec<Vec<u8>> = (0..6).map(|i| pattern(i * 3, i as u8)).collect();
    let bufs: Vec<&'static [u8]> = parts.iter().map(|p| static_tail(p)).collect();
    let (r, back) = reactor
        .run_until(reactor.op(RWriteV::new(&fd, bufs, 0)))
        .unwrap();
    assert_eq!(r.unwrap() as usize, parts.concat().len());
    assert_eq!(back.len(), 6);
    assert_eq!(contents(&mut file), parts.concat());

    let (client, mut server) = tcp_pair();
    let client = SharedFd::new(OwnedFd::from(client));
    let data = pattern(2000, 83);
    let buf = static_tail(&data);
    let (r, _) = reactor
        .run_until(reactor.op(RSend::new(&client, buf)))
        .unwrap();
    assert_eq!(r.unwrap(), 2000);
    assert_eq!(read_exactly(&mut server, 2000), data);
    let (r, _) = reactor
        .run_until(reactor.op(RSendZc::new(&client, buf)))
        .unwrap();
    assert_eq!(r.unwrap(), 2000);
    assert_eq!(read_exactly(&mut server, 2000), data);
    let bufs: Vec<&'static [u8]> = parts.iter().map(|p| static_tail(p)).collect();
    let (r, _) = reactor
        .run_until(reactor.op(RSendV::new(&client, bufs)))
        .unwrap();
    assert_eq!(r.unwrap() as usize, parts.concat().len());
    assert_eq!(
        read_exactly(&mut server, parts.concat().len()),
        parts.concat()
    );

    let dir = uring_tests::test_dir!();
    let path = dir.path().join("rx");
    let rx = UnixDatagram::bind(&path).unwrap();
    let tx = SharedFd::new(OwnedFd::from(UnixDatagram::unbound().unwrap()));
    let addr = SockAddr::unix(&path).unwrap();
    let (r, _) = reactor
        .run_until(reactor.op(RSendTo::with_addr(&tx, buf, addr)))
        .unwrap();
    assert_eq!(r.unwrap(), 2000);
    let mut got = vec![0u8; 4096];
    assert_eq!(rx.recv(&mut got).unwrap(), 2000);
    assert_eq!(&got[..2000], &data[..]);

    std::fs::write(dir.path().join("f"), b"twelve bytes").unwrap();
    let cpath = uring_tests::cpath(&dir.path().join("f"));
    let on_guard = || at_guard_pages(|| cpath.clone());
    let path = on_guard();
    assert_eq!(
        (path.as_ptr() as usize + path.as_bytes_with_nul().len()) % PAGE,
        0
    );
    let (r, opened) = reactor
        .run_until(reactor.op(ROpenAt::new(path, libc::O_RDONLY, 0)))
        .unwrap();
    assert!(r.is_ok(), "{r:?}");
    let mut opened = std::fs::File::from(opened.expect("a descriptor"));
    assert_eq!(contents(&mut opened), b"twelve bytes");
    let (r, stx) = reactor
        .run_until(reactor.op(RStatx::new(on_guard())))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(stx.stx_size, 12);
}

/// A send flagged as a bundle over a borrowed buffer posts two
/// completions on Linux 6.18: its count, flagged `IORING_CQE_F_MORE`, then
/// 0 (the kernel runs a send bundle as a multishot op). A scope of a ring
/// nothing else posts into (a fast scope) leaves the ops that post one
/// completion untagged and counts each completion without a tag as the
/// end of one of them; were the bundle left untagged, it would count twice,
/// the scope would find nothing in flight beside a pending read of a pipe
/// and return, and the read, still in the kernel, would write into the
/// buffer after its borrow ended (here a canary the test keeps alive, so
/// that the write shows instead of landing in freed memory). Defended: a
/// send that asks for a bundle is tagged and held until its last
/// completion; the read is cancelled before the scope returns, and the
/// canary is untouched by the bytes written to the pipe after.
#[test]
fn a_bundle_send_is_counted_once_in_a_fast_scope() {
    use uring::ops::Read;
    let _watch = uring_tests::watchdog();
    let mut victim = [0xC5u8; 16];
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 10, "send bundles") {
        return;
    }
    let (client, mut server) = tcp_pair();
    let (rd, wr) = uring_tests::pipe();
    let data = pattern(100, 91);
    let (fast, results, in_flight) = ring.scope(|s| {
        let fast = !s.tags_every_op();
        assert!(s.push(Read::new(&rd, &mut victim[..]).user_data(1)).is_ok());
        let send = Send::new(&client, &data[..]).send_flags(SendFlags::BUNDLE);
        assert!(s.push(send.user_data(2)).is_ok());
        let mut results = Vec::new();
        while results.len() < 2 {
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            results.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.cqe().has_more())),
            );
        }
        (fast, results, s.in_flight())
    });
    assert_eq!(
        results,
        [(2, 100, true), (2, 0, false)],
        "the bundle's completions"
    );
    assert_eq!(read_exactly(&mut server, 100), data);
    // The scope has returned: `victim` is no longer borrowed.
    std::fs::File::from(wr)
        .write_all(b"written after the scope")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        victim, [0xC5; 16],
        "the read pushed in the scope wrote after the scope returned (fast scope: {fast}; \
         in flight when the closure returned: {in_flight}, with the read still waiting)"
    );
    drop(ring);
}
