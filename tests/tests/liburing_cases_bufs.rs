//! Ports of liburing's test cases (the `test/` directory of
//! github.com/axboe/liburing) about provided buffers and multishot ops to
//! uring's API: buffer rings shared by multishot receives, rings that run
//! dry and are refilled, incrementally consumed rings, receive and send
//! bundles, multishot accepts and polls. Each test names its C file and
//! asserts what the C test asserts of the kernel (results, errnos, order,
//! counts, flags, buffer ids, bytes). Where the C test reaches the kernel in
//! a way uring refuses on purpose, or cannot express, the comment says so
//! and the port keeps what uring can express.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use uring::ops::{Read, Recv};
use uring::{BufferGroup, RecvFlags, Ring, SqeFlags, sys};
use uring_tests::{PATIENCE, incremental_buf_ring, pipe, plain_buf_ring, skip, tcp_pair};

// ---------------------------------------------------------------- helpers

/// Writes `bytes` to the pipe or socket `fd`.
fn write_to(fd: &OwnedFd, bytes: &[u8]) {
    std::fs::File::from(fd.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// `n` bytes of the C tests' stream pattern: byte `i` is `i % 256`.
fn byte_stream(n: usize) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

// ---------------------------------------------------------------- buf-ring-mshot.c

/// Runs four TCP streams into one buffer ring of `nr_bufs` buffers of 256
/// bytes, each stream read by a multishot receive of its own; the sender of
/// stream `i` sends `sends[i]` messages of 128 bytes, each byte `i`, then
/// shuts its side down. A receive that ends (out of buffers, or without
/// `IORING_CQE_F_MORE`) is armed again. Every completion with data names a
/// buffer of the ring holding only its stream's byte, and each stream's
/// bytes add up to what was sent; each stream ends with one end-of-stream
/// completion.
fn shared_buf_ring_streams(nr_bufs: u16, sends: [usize; 4]) {
    let _watch = uring_tests::watchdog();
    const SEND_SIZE: usize = 128;
    let mut ring = Ring::new(128).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 1, nr_bufs, 256) else {
        return;
    };
    let pairs: Vec<(TcpStream, TcpStream)> = (0..4).map(|_| tcp_pair()).collect();
    let barrier = Arc::new(Barrier::new(5));
    let senders: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(sid, (client, _))| {
            let mut client = client.try_clone().unwrap();
            let barrier = barrier.clone();
            let n = sends[sid];
            std::thread::spawn(move || {
                let msg = [sid as u8; SEND_SIZE];
                barrier.wait();
                for _ in 0..n {
                    client.write_all(&msg).unwrap();
                }
                client.shutdown(Shutdown::Write).unwrap();
                n * SEND_SIZE
            })
        })
        .collect();
    let recv = |sid: usize| {
        Recv::new(&pairs[sid].1, pool.select())
            .recv_flags(RecvFlags::MULTISHOT)
            .user_data(sid as u64)
    };
    let (received, rearms) = ring.scope(|s| {
        for sid in 0..4 {
            s.push(recv(sid)).unwrap();
        }
        assert_eq!(s.submit().unwrap(), 4);
        barrier.wait();
        let mut received = [0usize; 4];
        let mut eof = [false; 4];
        let mut rearms = 0;
        while eof.iter().any(|&e| !e) {
            s.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{e}: streams at end {eof:?}, bytes {received:?}"));
            let mut again = Vec::new();
            for mut cqe in s.completions() {
                let sid = cqe.user_data() as usize;
                assert!(sid < 4, "bad user_data: {cqe:?}");
                assert!(!eof[sid], "a completion after end of stream: {cqe:?}");
                match cqe.res() {
                    0 => {
                        assert!(!cqe.has_more(), "end of stream ends the receive: {cqe:?}");
                        assert_eq!(cqe.buffer_id(), None, "{cqe:?}");
                        eof[sid] = true;
                    }
                    res if res == -libc::ENOBUFS => {
                        assert!(!cqe.has_more(), "{cqe:?}");
                        again.push(sid);
                    }
                    res if res > 0 => {
                        let bid = cqe.buffer_id().expect("a receive names its buffer");
                        assert!(bid < nr_bufs, "bad bid {bid} (max {nr_bufs})");
                        let buf = pool.claim(&mut cqe).unwrap();
                        assert_eq!(buf.len(), res as usize);
                        assert!(
                            buf.iter().all(|&b| b == sid as u8),
                            "stream {sid} got another stream's bytes in buffer {bid}"
                        );
                        received[sid] += res as usize;
                        if !cqe.has_more() {
                            again.push(sid);
                        }
                    }
                    res => panic!("receive of stream {sid}: {res}"),
                }
            }
            rearms += again.len();
            for sid in again {
                s.push(recv(sid)).unwrap();
            }
            s.submit().unwrap();
        }
        (received, rearms)
    });
    let sent: Vec<usize> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        received.to_vec(),
        sent,
        "bytes per stream ({rearms} re-arms)"
    );
    assert_eq!(pool.lent(), 0);
    assert_eq!(pool.available().unwrap(), nr_bufs, "every buffer came back");
}

/// liburing test/buf-ring-mshot.c (test_shared_basic): four streams share
/// 32 buffers, 32 messages each.
#[test]
fn buf_ring_mshot_four_streams_share_one_ring() {
    shared_buf_ring_streams(32, [32; 4]);
}

/// liburing test/buf-ring-mshot.c (test_shared_exhaust): four streams share
/// only 8 buffers under 64 messages each: receives that run dry are armed
/// again, and no byte is lost or misplaced.
#[test]
fn buf_ring_mshot_four_streams_exhaust_eight_buffers() {
    shared_buf_ring_streams(8, [64; 4]);
}

/// liburing test/buf-ring-mshot.c (test_shared_uneven): one heavy stream
/// (128 messages) and three light ones (8) share 32 buffers.
#[test]
fn buf_ring_mshot_uneven_streams_share_one_ring() {
    shared_buf_ring_streams(32, [128, 8, 8, 8]);
}

// ---------------------------------------------------------------- buf-ring-nommap.c

/// A ring set up with `IORING_SETUP_NO_MMAP`, or `None` with a skip message.
fn no_mmap_ring(entries: u32) -> Option<Ring> {
    match Ring::builder().no_mmap().build(entries) {
        Ok(ring) => Some(ring),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOMEM)) => {
            skip(format_args!("no IORING_SETUP_NO_MMAP rings: {e}"));
            None
        }
        Err(e) => panic!("no_mmap ring: {e}"),
    }
}

/// liburing test/buf-ring-nommap.c, as uring expresses it: on a ring set up
/// without mapping its queues (`IORING_SETUP_NO_MMAP`), a read of a pipe
/// that selects from a one-buffer ring waits for the write, then completes
/// with its 5 bytes in that buffer, the completion naming it.
///
/// The C test registers the buffer ring with `IOU_PBUF_RING_MMAP` (the
/// kernel allocates the descriptors, mapped from the ring's descriptor)
/// and picks the buffer id 89 itself; uring's buffer rings always live in
/// memory the library allocates, with ids `0..count`, so that part runs in
/// the next test, through raw registration.
#[test]
fn buf_ring_nommap_read_selects_from_a_buffer_ring() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = no_mmap_ring(1) else {
        return;
    };
    let Some(pool) = plain_buf_ring(&mut ring, 5, 1, 32) else {
        return;
    };
    let (rx, tx) = pipe();
    ring.scope(|s| {
        s.push(Read::new(&rx, pool.select()).user_data(1)).unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        write_to(&tx, b"Hello");
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (1, 5), "{cqe:?}");
        assert_eq!(cqe.buffer_id(), Some(0), "buffer not selected: {cqe:?}");
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], b"Hello");
    });
}

/// liburing test/buf-ring-nommap.c, whole: a one-entry buffer ring the
/// kernel allocates (`IOU_PBUF_RING_MMAP`), mapped at
/// `IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT` of a
/// `NO_MMAP` ring's descriptor, given one buffer with id 89: a read that
/// selects from it completes with the 5 bytes written and names buffer 89.
///
/// uring has no kernel-allocated buffer rings and no way to pick buffer
/// ids (an API gap), so the registration, the mapping and the descriptor
/// are raw; the read goes through a scope.
#[test]
fn buf_ring_nommap_kernel_allocated_ring_serves_a_read() {
    let _watch = uring_tests::watchdog();
    const BGID: u16 = 5;
    const BID: u16 = 89;
    let Some(mut ring) = no_mmap_ring(1) else {
        return;
    };
    let reg = sys::io_uring_buf_reg {
        ring_entries: 1,
        bgid: BGID,
        flags: sys::IOU_PBUF_RING_MMAP,
        ..Default::default()
    };
    // SAFETY: a valid `io_uring_buf_reg` that lives for the call; with
    // `IOU_PBUF_RING_MMAP` the kernel allocates the ring's memory itself.
    let registered = unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_PBUF_RING,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
        )
    };
    if let Err(e) = registered {
        if e.raw_os_error() == Some(libc::EINVAL) {
            skip(format_args!("no IOU_PBUF_RING_MMAP: {e}"));
            return;
        }
        panic!("register the buffer ring: {e}");
    }
    let offset = sys::IORING_OFF_PBUF_RING | (i64::from(BGID) << sys::IORING_OFF_PBUF_SHIFT);
    let len = std::mem::size_of::<sys::io_uring_buf>();
    let br = sys::mmap_ring(ring.as_raw_fd(), len, offset)
        .unwrap_or_else(|e| panic!("mmap the buffer ring: {e}"))
        .cast::<sys::io_uring_buf>();
    // Leaked: the kernel may hold on to the buffer as long as the group
    // lives, which is as long as the ring.
    let buf: &'static mut [u8; 32] = Box::leak(Box::new([0u8; 32]));
    let buf_addr = buf.as_mut_ptr() as u64;
    // SAFETY: `br` maps the one descriptor of the ring, which the kernel
    // reads only up to the tail published below; the tail is the `resv`
    // field of that descriptor, written last, with release ordering.
    unsafe {
        (&raw mut (*br).addr).write(buf_addr);
        (&raw mut (*br).len).write(32);
        (&raw mut (*br).bid).write(BID);
        std::sync::atomic::AtomicU16::from_ptr(&raw mut (*br).resv)
            .store(1, std::sync::atomic::Ordering::Release);
    }
    let (rx, tx) = pipe();
    let cqe = ring.scope(|s| {
        s.push(Read::new(&rx, BufferGroup::new(BGID).select(32)).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        write_to(&tx, b"Hello");
        s.wait_timeout(1, PATIENCE).unwrap();
        s.completions().next().expect("a completion").cqe()
    });
    assert_eq!((cqe.user_data(), cqe.res()), (1, 5), "{cqe:?}");
    assert_eq!(cqe.buffer_id(), Some(BID), "wrong buffer id: {cqe:?}");
    assert_eq!(&buf[..5], b"Hello");
    // SAFETY: the mapping made above, not used after this.
    unsafe { libc::munmap(br.cast(), len) };
}

// ---------------------------------------------------------------- ringbuf-read.c

/// Reads the 128-block file of `ringbuf_read_*` (block `i` all `i + 1`)
/// half through: 64 reads of a block each, at block `i` with `user_data`
/// `i + 1`, select buffers of a ring of 128 pages (every other read forced
/// to a worker if `async_`); each completes with a whole block, in a buffer
/// holding only its `user_data` as bytes.
fn ringbuf_read(direct: bool, async_: bool) {
    use std::os::unix::fs::OpenOptionsExt;
    let _watch = uring_tests::watchdog();
    const BUF_SIZE: usize = 4096;
    const NR_BUFS: usize = 128;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("ringbuf-read");
    let contents: Vec<u8> = (0..NR_BUFS)
        .flat_map(|i| [(i + 1) as u8; BUF_SIZE])
        .collect();
    std::fs::write(&path, &contents).unwrap();
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    if direct {
        open.custom_flags(libc::O_DIRECT);
    }
    let file = match open.open(&path) {
        Ok(file) => file,
        Err(e) if direct && e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no O_DIRECT here: {e}"));
            return;
        }
        Err(e) => panic!("open: {e}"),
    };
    // SAFETY: posix_fadvise on an open descriptor only drops cached pages.
    unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            0,
            contents.len() as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        )
    };
    let mut ring = Ring::new(NR_BUFS as u32).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 1, NR_BUFS as u16, BUF_SIZE as u32) else {
        return;
    };
    ring.scope(|s| {
        for i in 0..NR_BUFS / 2 {
            let flags = if async_ && i % 2 == 0 {
                SqeFlags::ASYNC
            } else {
                SqeFlags::EMPTY
            };
            s.push(
                Read::new(&file, pool.select())
                    .offset((i * BUF_SIZE) as u64)
                    .flags(flags)
                    .user_data(i as u64 + 1),
            )
            .unwrap();
        }
        assert_eq!(s.submit().unwrap(), (NR_BUFS / 2) as u32);
        let mut seen = Vec::new();
        while seen.len() < NR_BUFS / 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                assert_eq!(cqe.res(), BUF_SIZE as i32, "{cqe:?}");
                assert!(cqe.buffer_id().is_some(), "no buffer selected: {cqe:?}");
                let ud = cqe.user_data();
                let buf = pool.claim(&mut cqe).unwrap();
                assert!(
                    buf.iter().all(|&b| u64::from(b) == ud),
                    "read {ud} into buffer {}: got {}, wanted {ud}",
                    buf.bid(),
                    buf.iter().find(|&&b| u64::from(b) != ud).unwrap()
                );
                seen.push(ud);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=(NR_BUFS / 2) as u64).collect::<Vec<_>>());
    });
}

/// liburing test/ringbuf-read.c (buffered): reads select page buffers of a
/// ring, each filled with its own block.
#[test]
fn ringbuf_read_buffered_reads_fill_selected_buffers() {
    ringbuf_read(false, false);
}

/// liburing test/ringbuf-read.c (buffered, async): as above, with every
/// other read forced to a worker (`IOSQE_ASYNC`).
#[test]
fn ringbuf_read_buffered_async_reads_fill_selected_buffers() {
    ringbuf_read(false, true);
}

/// liburing test/ringbuf-read.c (O_DIRECT): the same reads, bypassing the
/// page cache, into the ring's page-aligned buffers.
#[test]
fn ringbuf_read_direct_reads_fill_selected_buffers() {
    ringbuf_read(true, false);
}

/// liburing test/ringbuf-read.c (O_DIRECT, async).
#[test]
fn ringbuf_read_direct_async_reads_fill_selected_buffers() {
    ringbuf_read(true, true);
}

// ---------------------------------------------------------------- ringbuf-status.c

/// liburing test/ringbuf-status.c (test 0): the kernel's head of a ring of 8
/// buffers is 0 once they are provided, and stays 0 while a read of an
/// empty pipe waits; once the read has taken a buffer for its 16 bytes the
/// head is 1, and 7 buffers are available. (uring provides every buffer at
/// registration; the claimed buffer, dropped, is given back: 8 again, the
/// head still 1.)
#[test]
fn ringbuf_status_head_counts_the_buffers_taken() {
    let _watch = uring_tests::watchdog();
    const NR_BUFS: u16 = 8;
    let mut ring = Ring::new(u32::from(NR_BUFS)).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 1, NR_BUFS, 32) else {
        return;
    };
    match pool.head() {
        Ok(head) => assert_eq!(head, 0, "head before any read"),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_REGISTER_PBUF_STATUS (6.8): {e}"));
            return;
        }
        Err(e) => panic!("buf ring head: {e}"),
    }
    assert_eq!(pool.available().unwrap(), NR_BUFS);
    let (rx, tx) = pipe();
    let output = [0x55u8; 16];
    ring.scope(|s| {
        s.push(
            Read::new(&rx, pool.select())
                .offset(u64::from(NR_BUFS) * 32)
                .user_data(1),
        )
        .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        assert_eq!(pool.head().unwrap(), 0, "no buffer consumed yet");
        write_to(&tx, &output);
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (1, 16), "{cqe:?}");
        assert!(cqe.buffer_id().is_some(), "no buffer selected: {cqe:?}");
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], &output);
        assert_eq!(pool.head().unwrap(), 1, "one buffer consumed");
        assert_eq!(pool.available().unwrap(), NR_BUFS - 1);
        drop(buf);
        assert_eq!(pool.head().unwrap(), 1);
        assert_eq!(pool.available().unwrap(), NR_BUFS, "the claim came back");
    });
}

/// liburing test/ringbuf-status.c (test 1): the head of a group that has no
/// buffer ring cannot be read (`ENOENT`).
///
/// uring reads the head only through a registered `BufRing` (an API gap
/// for other groups: liburing's `io_uring_buf_ring_head(ring, bgid, ..)`),
/// so the status request is raw here.
#[test]
fn ringbuf_status_head_of_an_unknown_group_is_enoent() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 1, 8, 32) else {
        return;
    };
    if let Err(e) = pool.head() {
        skip(format_args!("no IORING_REGISTER_PBUF_STATUS (6.8): {e}"));
        return;
    }
    let mut status = sys::io_uring_buf_status {
        buf_group: 11,
        head: 1,
        ..Default::default()
    };
    // SAFETY: a valid, writable `io_uring_buf_status` that lives for the
    // call.
    let err = unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_PBUF_STATUS,
            (&mut status as *mut sys::io_uring_buf_status).cast(),
            1,
        )
    }
    .expect_err("lookup of a bad group id succeeded");
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
}

/// liburing test/ringbuf-status.c (test_max): a ring of the most buffers.
/// The C test registers 32768 entries and fills them in two halves,
/// checking 0, 16384 and 32768 available. uring refuses 32768 buffers on
/// purpose (`MAX_BUF_RING_BUFFERS` is 32767, so that twice the count of
/// ring positions stays unambiguous in 16 bits) and provides every buffer
/// at registration; so: 32768 is refused without reaching the kernel, and
/// a ring of 32767 has all 32767 available with the head at 0.
#[test]
fn ringbuf_status_the_largest_ring_has_every_buffer_available() {
    let mut ring = Ring::new(1).unwrap();
    let err = ring
        .register_buf_ring(BufferGroup::new(1), 32768, 32)
        .expect_err("32768 buffers");
    assert!(
        matches!(err, uring::Error::InvalidArgument(_)),
        "refused by uring: {err}"
    );
    assert_eq!(uring::MAX_BUF_RING_BUFFERS, 32767);
    let Some(pool) = plain_buf_ring(&mut ring, 1, uring::MAX_BUF_RING_BUFFERS, 32) else {
        return;
    };
    if let Err(e) = pool.head() {
        skip(format_args!("no IORING_REGISTER_PBUF_STATUS (6.8): {e}"));
        return;
    }
    assert_eq!(pool.head().unwrap(), 0);
    assert_eq!(pool.available().unwrap(), 32767);
}

// ---------------------------------------------------------------- ringbuf-loop.c

/// A page of anonymous memory, zeroed, for a raw buffer ring.
struct Page(*mut u8);

impl Page {
    fn new() -> Page {
        Page(sys::mmap_anonymous(4096).unwrap().cast())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: the page mapped in `new`, no longer registered anywhere.
        unsafe { libc::munmap(self.0.cast(), 4096) };
    }
}

/// Registers (or with `unregister`, unregisters) the raw buffer ring of
/// `entries` descriptors at `ring_addr` under `bgid`, with `flags`.
///
/// # Safety
///
/// The memory must stay mapped while the group is registered, and every
/// buffer a descriptor names must stay valid while the kernel may use it.
unsafe fn raw_buf_ring(
    ring: &Ring,
    ring_addr: u64,
    entries: u32,
    bgid: u16,
    flags: u16,
    unregister: bool,
) -> std::io::Result<u32> {
    let reg = sys::io_uring_buf_reg {
        ring_addr,
        ring_entries: entries,
        bgid,
        flags,
        ..Default::default()
    };
    let opcode = if unregister {
        sys::IORING_UNREGISTER_PBUF_RING
    } else {
        sys::IORING_REGISTER_PBUF_RING
    };
    // SAFETY: a valid `io_uring_buf_reg` that lives for the call; the
    // memory it names is the caller's to keep.
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            opcode,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
        )
    }
}

/// liburing test/ringbuf-loop.c: an incremental ring of 2 entries whose one
/// buffer is the ring's own memory (4096 bytes from the descriptors on). A
/// receive of a 32-byte datagram of zeroes picks the buffer while its
/// descriptor is valid, then overwrites that descriptor (address, length
/// and the tail) with zeroes before the kernel commits the consumed
/// length: the receive still completes with its 32 bytes in buffer 0, and
/// the ring goes on working.
///
/// uring refuses this by its types: a `BufRing` allocates its buffers and
/// its descriptors apart and writes the descriptors itself, so no buffer
/// can be the ring. The ring here is registered raw (on a ring set up with
/// `IORING_SETUP_NO_SQARRAY`, as in the C test); the receive goes through
/// a scope.
#[test]
fn ringbuf_loop_a_buffer_overwriting_its_own_ring_commits_cleanly() {
    use std::os::unix::net::UnixDatagram;
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder().no_sqarray().build(1) {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no IORING_SETUP_NO_SQARRAY: {e}"));
            return;
        }
    };
    let page = Page::new();
    // SAFETY: `page` outlives the registration, which ends below before
    // it is unmapped; the one buffer is the page itself.
    let registered =
        unsafe { raw_buf_ring(&ring, page.0 as u64, 2, 0, sys::IOU_PBUF_RING_INC, false) };
    if let Err(e) = registered {
        if e.raw_os_error() == Some(libc::EINVAL) {
            skip(format_args!("no incremental buffer rings (6.12): {e}"));
            return;
        }
        panic!("register: {e}");
    }
    let desc = page.0.cast::<sys::io_uring_buf>();
    // SAFETY: the first descriptor of the registered ring, past the tail
    // until the release store publishes it.
    unsafe {
        (&raw mut (*desc).addr).write(page.0 as u64);
        (&raw mut (*desc).len).write(4096);
        (&raw mut (*desc).bid).write(0);
        std::sync::atomic::AtomicU16::from_ptr(&raw mut (*desc).resv)
            .store(1, std::sync::atomic::Ordering::Release);
    }
    let (tx, rx) = UnixDatagram::pair().unwrap();
    assert_eq!(tx.send(&[0u8; 32]).unwrap(), 32);
    let cqe = ring.scope(|s| {
        s.push(Recv::new(&rx, BufferGroup::new(0).select(0)).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().next().expect("a completion").cqe()
    });
    assert_eq!((cqe.user_data(), cqe.res()), (1, 32), "{cqe:?}");
    assert_eq!(cqe.buffer_id(), Some(0), "{cqe:?}");
    // The ring still works.
    ring.push(uring::ops::Nop::new().user_data(2)).unwrap();
    let nop = uring_tests::reap_one(&mut ring);
    assert_eq!((nop.user_data(), nop.res()), (2, 0));
    // SAFETY: unregisters the group registered above.
    unsafe { raw_buf_ring(&ring, 0, 0, 0, 0, true) }.unwrap();
    drop(page);
}

// ---------------------------------------------------------------- read-inc-buf-more.c

/// A read of up to 32 bytes at the file position that selects from the
/// one-buffer incremental `pool`: its completion, which must name the
/// buffer and say `IORING_CQE_F_BUF_MORE` (the 256-byte buffer has room
/// left after it), and the bytes claimed from it.
fn read_inc_piece(
    ring: &mut Ring,
    pool: &uring::BufRing,
    fd: &impl std::os::fd::AsFd,
) -> (i32, usize, Vec<u8>) {
    ring.scope(|s| {
        s.push(
            Read::new(fd, BufferGroup::new(pool.group().id()).select(32))
                .offset(u64::MAX)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("a completion");
        assert!(cqe.res() >= 0, "read error: {cqe:?}");
        assert_eq!(cqe.buffer_id(), Some(0), "no buffer flag set: {cqe:?}");
        assert!(
            cqe.flags() & sys::IORING_CQE_F_BUF_MORE != 0,
            "BUF_MORE not set, res={} flags={:#x}",
            cqe.res(),
            cqe.flags()
        );
        let buf = pool.claim(&mut cqe).unwrap();
        (cqe.res(), buf.offset(), buf.to_vec())
    })
}

/// liburing test/read-inc-buf-more.c (test_pipe): reads of a pipe that
/// select from a one-buffer incremental ring of 256 bytes: 12 bytes, then,
/// once the write end is closed, end of file; both completions say
/// `IORING_CQE_F_BUF_MORE`, since the buffer has room left.
#[test]
fn read_inc_buf_more_pipe_data_and_eof_keep_the_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 1, 1, 256) else {
        return;
    };
    let (rx, tx) = pipe();
    write_to(&tx, b"hello world!");
    let (res, offset, bytes) = read_inc_piece(&mut ring, &pool, &rx);
    assert_eq!((res, offset), (12, 0));
    assert_eq!(bytes, b"hello world!");
    drop(tx);
    let (res, offset, bytes) = read_inc_piece(&mut ring, &pool, &rx);
    assert_eq!((res, bytes.len()), (0, 0), "expected end of file");
    assert_eq!(offset, 12);
}

/// liburing test/read-inc-buf-more.c (test_file): four reads of 32 bytes
/// of a regular file (not pollable: the kernel commits the buffer early)
/// from a one-buffer incremental ring of 256 bytes each say
/// `IORING_CQE_F_BUF_MORE`, and their bytes lie one after the other in the
/// buffer.
#[test]
fn read_inc_buf_more_file_reads_keep_the_buffer() {
    let _watch = uring_tests::watchdog();
    let mut file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for i in 0..4u8 {
        file.write_all(&[b'a' + i; 32]).unwrap();
    }
    use std::io::Seek as _;
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    let mut ring = Ring::new(64).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 1, 1, 256) else {
        return;
    };
    for i in 0..4u8 {
        let (res, offset, bytes) = read_inc_piece(&mut ring, &pool, &file);
        assert_eq!(res, 32, "file short read {i}");
        assert_eq!(offset, 32 * usize::from(i));
        assert_eq!(bytes, [b'a' + i; 32]);
    }
}

// ---------------------------------------------------------------- poll-mshot-wake.c

/// liburing test/poll-mshot-wake.c: a multishot poll of the eventfd that is
/// also the ring's completion eventfd. Each event posts a completion, which
/// signals the eventfd again from inside the poll's wake-up (a nested
/// wake, `EPOLL_URING_WAKE`): the first completion still says more will
/// come; the nested wake then ends the multishot poll, so the next
/// completion is its last (no `IORING_CQE_F_MORE`) instead of the poll
/// staying armed without ever posting again.
#[test]
fn poll_mshot_wake_nested_wake_ends_the_multishot_poll() {
    use std::os::fd::AsFd;
    use uring::ops::PollAdd;
    use uring::{PollEvents, PollFlags};
    let _watch = uring_tests::watchdog();
    // SAFETY: eventfd takes plain integers.
    let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: eventfd just returned this descriptor, owned by no one else.
    let evfd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut ring = Ring::new(8).unwrap();
    ring.register_eventfd(evfd.as_fd(), false).unwrap();
    let mut file = std::fs::File::from(evfd.try_clone().unwrap());
    ring.scope(|s| {
        s.push(
            PollAdd::new(&evfd, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(1),
        )
        .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        for i in 0..2 {
            file.write_all(&1u64.to_ne_bytes()).unwrap();
            let mut val = [0u8; 8];
            file.read_exact(&mut val).unwrap();
            s.wait_timeout(1, Duration::from_secs(1))
                .unwrap_or_else(|e| panic!("poll stuck: no completion after iteration {i}: {e}"));
            let cqe = s.completions().next().expect("a completion");
            assert_eq!(cqe.user_data(), 1, "{cqe:?}");
            assert!(cqe.res() >= 0, "{cqe:?}");
            assert!(
                PollEvents::from_bits_truncate(cqe.res() as u32).contains(PollEvents::IN),
                "{cqe:?}"
            );
            if i == 0 {
                assert!(cqe.has_more(), "IORING_CQE_F_MORE not set: {cqe:?}");
            } else {
                assert!(!cqe.has_more(), "IORING_CQE_F_MORE set: {cqe:?}");
            }
        }
        assert_eq!(s.in_flight(), 0, "the poll ended");
    });
}

// ---------------------------------------------------------------- buf-ring-upgrade.c

/// Provides `count` legacy buffers of `len` bytes to `group` with ids from 0
/// (`IORING_OP_PROVIDE_BUFFERS`) and returns the completion's result. The
/// memory is leaked: the kernel keeps legacy buffers until an op consumes
/// them or the ring goes.
///
/// `ProvideBuffers` takes no safe push, not even over `'static` memory
/// (`Ring::push` wants `Unborrowed`, which the op table gives no op with a
/// lifetime), hence `push_unchecked`.
fn provide_legacy(ring: &mut Ring, group: u16, count: usize, len: usize) -> i32 {
    use uring::BufferPool;
    use uring::ops::ProvideBuffers;
    let region: &'static mut [u8] = Box::leak(vec![0x41u8; count * len].into_boxed_slice());
    // SAFETY: the region is leaked, so it outlives every op that may select
    // one of its buffers, and nothing else touches it.
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(BufferPool::new(region, len as u32), BufferGroup::new(group))
                .user_data(0xb0),
        )
    }
    .unwrap();
    let cqe = uring_tests::reap_one(ring);
    assert_eq!(cqe.user_data(), 0xb0);
    cqe.res()
}

/// liburing test/buf-ring-upgrade.c, the upgrade itself: a group holding a
/// legacy provided buffer cannot take a buffer ring (`EEXIST`); once a
/// receive has consumed that buffer (id 0) the group is empty and the ring
/// registers in its place, later receives select from the ring, and the
/// old legacy buffer can no longer be provided to the group, now a ring's.
#[test]
fn buf_ring_upgrade_an_emptied_legacy_group_takes_a_ring() {
    use std::os::unix::net::UnixDatagram;
    let _watch = uring_tests::watchdog();
    const BGID: u16 = 0x444;
    let mut ring = Ring::new(2).unwrap();
    assert_eq!(provide_legacy(&mut ring, BGID, 1, 4096), 0);
    let err = ring
        .register_buf_ring(BufferGroup::new(BGID), 4, 4096)
        .expect_err("a ring over a group with a legacy buffer");
    if err.raw_os_error() == Some(libc::EINVAL) {
        skip(format_args!("no provided-buffer rings (5.19): {err}"));
        return;
    }
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let recv_one = |ring: &mut Ring, datagram: Option<&[u8]>| {
        if let Some(datagram) = datagram {
            assert_eq!(tx.send(datagram).unwrap(), datagram.len());
        }
        uring_tests::complete(
            ring,
            Recv::new(&rx, BufferGroup::new(BGID).select(1))
                .flags(SqeFlags::ASYNC)
                .user_data(7),
        )
    };
    let cqe = recv_one(&mut ring, Some(b"L"));
    assert_eq!((cqe.res(), cqe.buffer_id()), (1, Some(0)), "{cqe:?}");
    // No buffer left: the receive fails before it waits for data.
    let cqe = recv_one(&mut ring, None);
    assert_eq!(
        cqe.res(),
        -libc::ENOBUFS,
        "the legacy group is empty: {cqe:?}"
    );
    let pool = ring
        .register_buf_ring(BufferGroup::new(BGID), 4, 4096)
        .expect("a ring over the emptied group");
    ring.scope(|s| {
        for byte in [b'x', b'y'] {
            assert_eq!(tx.send(&[byte]).unwrap(), 1);
            s.push(
                Recv::new(&rx, pool.select())
                    .flags(SqeFlags::ASYNC)
                    .user_data(8),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().expect("a completion");
            assert_eq!(cqe.res(), 1, "{cqe:?}");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], [byte]);
        }
    });
    // The legacy buffer, recycled into the group, is refused: the group
    // is a ring's now.
    assert_eq!(provide_legacy(&mut ring, BGID, 1, 4096), -libc::EINVAL);
}

/// liburing test/buf-ring-upgrade.c, the race: one legacy buffer in a
/// group; receives forced to workers (`IOSQE_ASYNC`) select from the group,
/// one after the other, while a sender streams empty datagrams and another
/// thread keeps trying to register a buffer ring of 1024 entries for the
/// group. An empty datagram leaves the legacy buffer in the group, so the
/// registration fails (`EEXIST`, `EBUSY`) until it meets a receive that
/// holds the buffer; then it succeeds, and that receive's buffer, given
/// back to a group that is a ring's by then, is dropped rather than
/// recycled into the ring. Every receive completes with an empty
/// datagram or `ENOBUFS`; after the registration they take the ring's
/// buffers in ring order, each once, then find it empty.
///
/// uring registers buffer rings only through `&mut Ring` (so never from
/// another thread while the ring is in use) and in memory it allocates, so
/// the racing registration is raw, on the ring's descriptor, as the C
/// test's forked process does it; the receives go through scopes.
#[test]
fn buf_ring_upgrade_registration_races_receives() {
    use std::os::unix::net::UnixDatagram;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::Instant;
    let _watch = uring_tests::watchdog();
    const BGID: u16 = 0x444;
    const ENTRIES: usize = 1024;
    const POST_REG_ITERS: usize = 1500;
    // The mappings outlive the ring, which is dropped first.
    let descs = sys::mmap_anonymous(ENTRIES * std::mem::size_of::<sys::io_uring_buf>())
        .unwrap()
        .cast::<sys::io_uring_buf>();
    let data = Page::new();
    // SAFETY: the descriptors are in the fresh mapping, not yet registered;
    // the tail (the first descriptor's `resv`) is written after them.
    unsafe {
        for i in 0..ENTRIES {
            let d = descs.add(i);
            (&raw mut (*d).addr).write(data.0 as u64);
            (&raw mut (*d).len).write(4096);
            (&raw mut (*d).bid).write(i as u16);
        }
        (&raw mut (*descs).resv).write(ENTRIES as u16);
    }
    let mut ring = Ring::new(2).unwrap();
    assert_eq!(provide_legacy(&mut ring, BGID, 1, 4096), 0);
    let ring_fd = ring.as_raw_fd();
    let descs_addr = descs as u64;
    let (tx, rx) = UnixDatagram::pair().unwrap();
    tx.set_nonblocking(true).unwrap();
    let stop = AtomicBool::new(false);
    // 0 while trying, 1 registered, 2 no buffer rings here.
    let registered = AtomicU32::new(0);
    let mut results = Vec::new();
    let bad_errors = std::thread::scope(|t| {
        t.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if tx.send(b"").is_err() {
                    std::thread::yield_now();
                }
            }
        });
        let registrar = t.spawn(|| {
            let mut bad = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let reg = sys::io_uring_buf_reg {
                    ring_addr: descs_addr,
                    ring_entries: ENTRIES as u32,
                    bgid: BGID,
                    ..Default::default()
                };
                // SAFETY: a valid `io_uring_buf_reg` alive for the call; the
                // descriptors and the buffer they name stay mapped until the
                // ring is gone.
                let res = unsafe {
                    sys::io_uring_register(
                        ring_fd,
                        sys::IORING_REGISTER_PBUF_RING,
                        (&reg as *const sys::io_uring_buf_reg).cast(),
                        1,
                    )
                };
                match res.map_err(|e| e.raw_os_error()) {
                    Ok(_) => {
                        registered.store(1, Ordering::SeqCst);
                        break;
                    }
                    Err(Some(libc::EINVAL)) => {
                        registered.store(2, Ordering::SeqCst);
                        break;
                    }
                    Err(Some(libc::EEXIST | libc::EBUSY)) => {}
                    Err(e) => bad.push(e),
                }
            }
            bad
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut since_reg = None;
        while Instant::now() < deadline {
            let cqe = uring_tests::complete(
                &mut ring,
                Recv::new(&rx, BufferGroup::new(BGID).select(1))
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            );
            let state = registered.load(Ordering::SeqCst);
            results.push((cqe.res(), cqe.buffer_id(), state == 1));
            if state == 2 {
                break;
            }
            if state == 1 {
                let n = since_reg.get_or_insert(0);
                *n += 1;
                if *n > POST_REG_ITERS {
                    break;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        registrar.join().unwrap()
    });
    if registered.load(Ordering::SeqCst) == 2 {
        skip("no provided-buffer rings (5.19)");
        return;
    }
    assert_eq!(
        bad_errors,
        [],
        "registration errors other than EEXIST/EBUSY"
    );
    assert_eq!(
        registered.load(Ordering::SeqCst),
        1,
        "the ring never registered over the emptied group ({} receives)",
        results.len()
    );
    // Every receive got an empty datagram, or found no buffer.
    for &(res, bid, _) in &results {
        match res {
            0 => assert!(bid.is_none_or(|b| usize::from(b) < ENTRIES), "bid {bid:?}"),
            res => {
                assert_eq!(res, -libc::ENOBUFS, "receive result");
                assert_eq!(bid, None);
            }
        }
    }
    // An empty datagram leaves the legacy buffer in the group (the
    // completion names none), which is why the registration keeps failing
    // until it meets a receive holding the buffer. The one receive that
    // straddles the registration gives its legacy buffer back to a group
    // that is a ring's by then: the ring drops it, and the completion
    // names no buffer. Every receive after it takes the ring's buffers,
    // in ring order, each once, then finds it empty.
    let unnamed_after = results
        .iter()
        .filter(|&&(res, bid, after)| after && res == 0 && bid.is_none())
        .count();
    assert!(
        unnamed_after <= 1,
        "{unnamed_after} receives after the registration named no buffer"
    );
    let named: Vec<u16> = results.iter().filter_map(|r| r.1).collect();
    let ring_order: Vec<u16> = (0..ENTRIES as u16).collect();
    match named.len() {
        // The legacy buffer (id 0) was consumed once, then the ring's.
        n if n == ENTRIES + 1 => {
            assert_eq!(named[0], 0, "the legacy buffer");
            assert!(named[1..] == ring_order, "ring buffers out of order");
        }
        n if n == ENTRIES => assert!(named == ring_order, "ring buffers out of order"),
        n => panic!("{n} receives named a buffer, of 1 legacy and {ENTRIES} in the ring"),
    }
    let last_named = results.iter().rposition(|r| r.1.is_some()).unwrap();
    assert!(
        results[last_named + 1..]
            .iter()
            .all(|r| r.0 == -libc::ENOBUFS),
        "the drained ring served a receive"
    );
    // SAFETY: unregisters the raw group before its memory goes.
    unsafe { raw_buf_ring(&ring, 0, 0, BGID, 0, true) }.unwrap();
    drop(ring);
    // SAFETY: the descriptors mapped above, no longer registered.
    unsafe {
        libc::munmap(
            descs.cast(),
            ENTRIES * std::mem::size_of::<sys::io_uring_buf>(),
        )
    };
}

// ---------------------------------------------------------------- ring setups

/// The ring set-ups the C tests repeat a case under.
#[derive(Clone, Copy, Debug)]
enum Setup {
    Plain,
    DeferTaskrun,
    Sqpoll,
    CoopTaskrun,
}

/// A ring of `entries` set up as `setup` says, or `None` with a skip
/// message when this kernel lacks the set-up.
fn ring_for(setup: Setup, entries: u32) -> Option<Ring> {
    let builder = Ring::builder();
    let builder = match setup {
        Setup::Plain => builder,
        Setup::DeferTaskrun => builder.single_issuer().defer_taskrun(),
        Setup::Sqpoll => {
            if !uring_tests::require_sqpoll() {
                return None;
            }
            builder.sqpoll(Duration::from_millis(100))
        }
        Setup::CoopTaskrun => builder.coop_taskrun(),
    };
    match builder.build(entries) {
        Ok(ring) => Some(ring),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no {setup:?} rings: {e}"));
            None
        }
        Err(e) => panic!("{setup:?} ring: {e}"),
    }
}

// ---------------------------------------------------------------- recv-mshot-drain.c

/// liburing test/recv-mshot-drain.c: a multishot receive on a TCP
/// connection over a ring of only 4 buffers of 128 bytes, while the peer
/// sends 4096 messages of 64 bytes (message `i` all `i % 256`, a short
/// pause every 8): when the ring runs dry the receive ends (`ENOBUFS`, or
/// a completion without `IORING_CQE_F_MORE`) and is armed again once
/// buffers are back; at end of stream every byte has arrived, in order.
#[test]
fn recv_mshot_drain_a_drained_ring_refilled_loses_no_byte() {
    let _watch = uring_tests::watchdog();
    const NR_SENDS: usize = 4096;
    const SEND_SIZE: usize = 64;
    let mut ring = Ring::new(32).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 1, 4, 128) else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sender = std::thread::spawn(move || {
        let mut conn = TcpStream::connect(addr).unwrap();
        for i in 0..NR_SENDS {
            conn.write_all(&[i as u8; SEND_SIZE]).unwrap();
            if i % 8 == 7 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let (conn, _) = listener.accept().unwrap();
    let recv = || {
        Recv::new(&conn, pool.select())
            .recv_flags(RecvFlags::MULTISHOT)
            .user_data(1)
    };
    let got = ring.scope(|s| {
        s.push(recv()).unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let mut got = Vec::with_capacity(NR_SENDS * SEND_SIZE);
        let mut eof = false;
        while !eof {
            s.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{e} after {} bytes", got.len()));
            let mut again = false;
            for mut cqe in s.completions() {
                assert_eq!(cqe.user_data(), 1);
                assert!(!eof, "a completion after end of stream: {cqe:?}");
                match cqe.res() {
                    0 => {
                        assert!(!cqe.has_more(), "{cqe:?}");
                        eof = true;
                    }
                    res if res == -libc::ENOBUFS => {
                        assert!(!cqe.has_more(), "{cqe:?}");
                        again = true;
                    }
                    res if res > 0 => {
                        let buf = pool.claim(&mut cqe).unwrap();
                        assert_eq!(buf.len(), res as usize);
                        got.extend_from_slice(&buf);
                        again |= !cqe.has_more();
                    }
                    res => panic!("recv error: {res}"),
                }
            }
            if again && !eof {
                s.push(recv()).unwrap();
                s.submit().unwrap();
            }
        }
        got
    });
    sender.join().unwrap();
    assert_eq!(got.len(), NR_SENDS * SEND_SIZE, "bytes received");
    let expected: Vec<u8> = (0..NR_SENDS).flat_map(|i| [i as u8; SEND_SIZE]).collect();
    assert!(got == expected, "the bytes arrived out of order");
    assert_eq!(pool.lent(), 0);
}

// ---------------------------------------------------------------- recv-inc-ooo.c

/// A multishot receive bundle over an incremental ring of 4 buffers of
/// 1024 bytes on a TCP connection (a ring set up as `setup` says); the peer
/// sends 2048 bytes of `i % 256` in chunks of 512, 333, 777 and 426, each
/// received whole before the next is sent. No completion reports more
/// than a buffer's 1024 bytes, and the bytes, claimed completion after
/// completion, are the stream in order.
fn recv_inc_ooo(setup: Setup) {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_for(setup, 16) else {
        return;
    };
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(pool) = incremental_buf_ring(&mut ring, 0, 4, 1024) else {
        return;
    };
    let (mut client, server) = tcp_pair();
    let data = byte_stream(2048);
    let got = ring.scope(|s| {
        s.push(
            Recv::new(&server, pool.select())
                .recv_flags(RecvFlags::MULTISHOT | RecvFlags::BUNDLE)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        let mut sent = 0;
        for chunk in [512, 333, 777, 426] {
            client.write_all(&data[sent..sent + chunk]).unwrap();
            sent += chunk;
            while got.len() < sent {
                s.wait_timeout(1, PATIENCE)
                    .unwrap_or_else(|e| panic!("{e} after {} bytes", got.len()));
                for mut cqe in s.completions() {
                    assert_eq!(cqe.user_data(), 1);
                    assert!(cqe.res() > 0, "CQE res {}", cqe.res());
                    assert!(
                        cqe.res() <= 1024,
                        "a completion larger than a buffer: {cqe:?}"
                    );
                    assert!(cqe.has_more(), "{cqe:?}");
                    let at = got.len();
                    for buf in pool.claim_bundle(&mut cqe).unwrap() {
                        got.extend_from_slice(&buf);
                    }
                    assert_eq!(got.len() - at, cqe.res() as usize);
                    assert!(
                        got[at..] == data[at..got.len()],
                        "recv data ordering mismatch at {at}"
                    );
                }
            }
        }
        got
    });
    assert_eq!(got.len(), data.len(), "bytes received");
    assert!(got == data);
}

/// liburing test/recv-inc-ooo.c, on a plain ring.
#[test]
fn recv_inc_ooo_incremental_bundle_keeps_order() {
    recv_inc_ooo(Setup::Plain);
}

/// liburing test/recv-inc-ooo.c, on a `DEFER_TASKRUN` ring.
#[test]
fn recv_inc_ooo_incremental_bundle_keeps_order_defer_taskrun() {
    recv_inc_ooo(Setup::DeferTaskrun);
}

/// liburing test/recv-inc-ooo.c, on an `SQPOLL` ring.
#[test]
fn recv_inc_ooo_incremental_bundle_keeps_order_sqpoll() {
    recv_inc_ooo(Setup::Sqpoll);
}

/// liburing test/recv-inc-ooo.c, on a `COOP_TASKRUN` ring.
#[test]
fn recv_inc_ooo_incremental_bundle_keeps_order_coop_taskrun() {
    recv_inc_ooo(Setup::CoopTaskrun);
}

// ---------------------------------------------------------------- recv-bundle-short-ooo.c

/// Four multishot receive bundles on one TCP connection, over a ring of 4
/// buffers of 1024 bytes (a ring set up as `setup` says), while the peer
/// sends 1 MiB of `i % 256` and closes: a receive that ends with data (or
/// out of buffers) is armed again; the bytes, claimed completion after
/// completion, are the stream in order, all of it, and end of stream ends
/// the loop.
fn recv_bundle_short_ooo(setup: Setup) {
    let _watch = uring_tests::watchdog();
    const TOTAL: usize = 1024 * 1024;
    let Some(mut ring) = ring_for(setup, 16) else {
        return;
    };
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 0, 4, 1024) else {
        return;
    };
    let (mut client, server) = tcp_pair();
    let data = Arc::new(byte_stream(TOTAL));
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || {
            client.write_all(&data).unwrap();
            // The connection closes here.
        })
    };
    let recv = || {
        Recv::new(&server, pool.select())
            .recv_flags(RecvFlags::MULTISHOT | RecvFlags::BUNDLE)
            .user_data(1)
    };
    let (got, eof) = ring.scope(|s| {
        for _ in 0..4 {
            s.push(recv()).unwrap();
        }
        s.submit().unwrap();
        let mut got = Vec::with_capacity(TOTAL);
        let mut polls = 0;
        let mut eof = false;
        while got.len() < TOTAL && !eof {
            assert!(polls < 5000, "{polls} completions for {} bytes", got.len());
            s.wait_timeout(1, PATIENCE)
                .unwrap_or_else(|e| panic!("{e} after {} bytes", got.len()));
            let mut again = 0;
            for mut cqe in s.completions() {
                polls += 1;
                match cqe.res() {
                    0 => {
                        assert!(!cqe.has_more(), "{cqe:?}");
                        eof = true;
                    }
                    res if res == -libc::ENOBUFS => again += 1,
                    res if res > 0 => {
                        let at = got.len();
                        for buf in pool.claim_bundle(&mut cqe).unwrap() {
                            assert!(buf.len() <= 1024);
                            got.extend_from_slice(&buf);
                        }
                        assert_eq!(got.len() - at, res as usize, "{cqe:?}");
                        assert!(
                            got[at..] == data[at..got.len()],
                            "recv data ordering mismatch at {at}"
                        );
                        if !cqe.has_more() {
                            again += 1;
                        }
                    }
                    res => panic!("CQE res {res}"),
                }
            }
            for _ in 0..again {
                s.push(recv()).unwrap();
            }
            s.submit().unwrap();
        }
        (got, eof)
    });
    writer.join().unwrap();
    assert_eq!(got.len(), TOTAL, "received (end of stream seen: {eof})");
    assert_eq!(pool.lent(), 0);
}

/// liburing test/recv-bundle-short-ooo.c, on a plain ring.
#[test]
fn recv_bundle_short_ooo_four_bundles_keep_order() {
    recv_bundle_short_ooo(Setup::Plain);
}

/// liburing test/recv-bundle-short-ooo.c, on a `DEFER_TASKRUN` ring.
#[test]
fn recv_bundle_short_ooo_four_bundles_keep_order_defer_taskrun() {
    recv_bundle_short_ooo(Setup::DeferTaskrun);
}

/// liburing test/recv-bundle-short-ooo.c, on an `SQPOLL` ring.
#[test]
fn recv_bundle_short_ooo_four_bundles_keep_order_sqpoll() {
    recv_bundle_short_ooo(Setup::Sqpoll);
}

/// liburing test/recv-bundle-short-ooo.c, on a `COOP_TASKRUN` ring.
#[test]
fn recv_bundle_short_ooo_four_bundles_keep_order_coop_taskrun() {
    recv_bundle_short_ooo(Setup::CoopTaskrun);
}

// ---------------------------------------------------------------- recvmsg-inc-tail.c

/// `struct io_uring_buf_reg` as liburing declares it since April 2026, with
/// `min_left`: the least room an incremental buffer must have left to be
/// used again.
#[repr(C)]
#[derive(Default)]
struct BufRegMinLeft {
    ring_addr: u64,
    ring_entries: u32,
    bgid: u16,
    flags: u16,
    min_left: u32,
    resv: [u32; 5],
}

/// Whether the kernel takes `min_left` when registering a buffer ring
/// (it fails with `EINVAL` where the field is still reserved).
fn kernel_takes_min_left(ring: &Ring) -> bool {
    let page = Page::new();
    let reg = BufRegMinLeft {
        ring_addr: page.0 as u64,
        ring_entries: 1,
        bgid: 0x7ff,
        flags: sys::IOU_PBUF_RING_INC,
        min_left: 32,
        ..Default::default()
    };
    // SAFETY: a valid registration argument alive for the call, naming a
    // page that stays mapped until the group is unregistered below (it
    // has no buffers: its tail is 0).
    let res = unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_PBUF_RING,
            (&reg as *const BufRegMinLeft).cast(),
            1,
        )
    };
    if res.is_ok() {
        // SAFETY: unregisters the group registered just above.
        unsafe { raw_buf_ring(ring, 0, 0, 0x7ff, 0, true) }.unwrap();
    }
    res.is_ok()
}

/// liburing test/recvmsg-inc-tail.c: a multishot `recvmsg` over an
/// incremental ring of 4 buffers of 1024 bytes; each message takes a
/// 32-byte header (16 of `io_uring_recvmsg_out`, 16 of room for a
/// `sockaddr_in`) and its payload from the buffer at the head. Two
/// messages of 480 bytes fill buffer 0 exactly (bids 0, 0), the next
/// three of 305 go to buffer 1 (bids 1, 1, 1), each laid out right after
/// the last in the buffer, with no control data and the payload of the
/// stream in order.
///
/// The C test goes on with four more messages of 305, which must each
/// retire a buffer's 13-byte tail (too small for a header) and move to the
/// next buffer instead of failing with `EFAULT`; that needs the ring
/// registered with `min_left`, which uring's
/// `register_buf_ring_incremental` cannot set (an API gap): the next test
/// runs it over a raw registration.
#[test]
fn recvmsg_inc_tail_messages_are_laid_out_one_after_the_other() {
    use uring::ops::RecvMsgMulti;
    use uring::{MsgLayout, RecvMsgOut};
    let _watch = uring_tests::watchdog();
    const HDR: usize = 32;
    let sizes = [480usize, 480, 305, 305, 305];
    let expected_bids = [0u16, 0, 1, 1, 1];
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, 1, 4, 1024) else {
        return;
    };
    let (mut client, server) = tcp_pair();
    let stream = byte_stream(sizes.iter().sum());
    let layout = MsgLayout::new(std::mem::size_of::<libc::sockaddr_in>() as u32, 0);
    let mut offsets = [0usize; 4];
    ring.scope(|s| {
        s.push(RecvMsgMulti::new(&server, &layout, pool.group()).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let mut sent = 0;
        for (i, &size) in sizes.iter().enumerate() {
            client.write_all(&stream[sent..sent + size]).unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let mut cqe = s.completions().next().expect("a completion");
            assert_eq!(cqe.user_data(), 1);
            assert!(
                cqe.res() >= 0,
                "send {i}: recvmsg multishot failed: {cqe:?}"
            );
            assert!(cqe.has_more(), "send {i}: {cqe:?}");
            let res = cqe.res() as usize;
            assert_eq!(res, HDR + size, "send {i}: {cqe:?}");
            let bid = cqe.buffer_id().expect("CQE missing buffer id");
            assert_eq!(bid, expected_bids[i], "send {i}");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf.bid(), bid);
            assert_eq!(buf.offset(), offsets[usize::from(bid)], "send {i}");
            let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
            assert_eq!(msg.control_len(), 0, "send {i}");
            assert_eq!(msg.payload_len() as usize, res - HDR, "send {i}");
            assert!(
                msg.payload() == &stream[sent..sent + size],
                "send {i}: payload content mismatch at {sent}"
            );
            offsets[usize::from(bid)] += res;
            sent += size;
        }
    });
}

/// liburing test/recvmsg-inc-tail.c, whole: as above, then four more
/// messages of 305 bytes. Buffer 1 has 13 bytes left after three, fewer
/// than the `min_left` of 32 the ring was registered with: the kernel
/// retires that tail, so the third message of 305 is buffer 1's last
/// (no `IORING_CQE_F_BUF_MORE`), and the next ones go to buffer 2 (bids
/// 2, 2, 2) and buffer 3, none failing with `EFAULT`; 4 distinct buffers
/// in all, each message laid out right after the last in its buffer.
///
/// uring's `register_buf_ring_incremental` cannot set `min_left` (an API
/// gap: on such a ring the sixth message fails with `EFAULT`), so the
/// buffer ring here is registered raw, with the C test's `min_left`; the
/// receive goes through a scope and its messages are read with
/// `RecvMsgOut::parse`.
#[test]
fn recvmsg_inc_tail_min_left_retires_short_tails() {
    use uring::ops::RecvMsgMulti;
    use uring::{MsgLayout, RecvMsgOut};
    let _watch = uring_tests::watchdog();
    const HDR: usize = 32;
    const BGID: u16 = 1;
    let sizes = [480usize, 480, 305, 305, 305, 305, 305, 305, 305];
    let expected_bids = [0u16, 0, 1, 1, 1, 2, 2, 2, 3];
    let mut ring = Ring::new(8).unwrap();
    if !kernel_takes_min_left(&ring) {
        skip("this kernel takes no min_left for incremental buffer rings");
        return;
    }
    // Both mappings outlive the registration, which ends below.
    let descs = Page::new();
    let data_bufs = sys::mmap_anonymous(4 * 1024).unwrap().cast::<u8>();
    let reg = BufRegMinLeft {
        ring_addr: descs.0 as u64,
        ring_entries: 4,
        bgid: BGID,
        flags: sys::IOU_PBUF_RING_INC,
        min_left: HDR as u32,
        ..Default::default()
    };
    // SAFETY: a valid registration argument alive for the call; the
    // descriptors and the buffers they name stay mapped until the group
    // is unregistered below.
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_PBUF_RING,
            (&reg as *const BufRegMinLeft).cast(),
            1,
        )
    }
    .unwrap();
    let desc = descs.0.cast::<sys::io_uring_buf>();
    // SAFETY: the four descriptors of the registered ring, past its tail
    // until the release store publishes them.
    unsafe {
        for i in 0..4 {
            let d = desc.add(i);
            (&raw mut (*d).addr).write(data_bufs.add(i * 1024) as u64);
            (&raw mut (*d).len).write(1024);
            (&raw mut (*d).bid).write(i as u16);
        }
        std::sync::atomic::AtomicU16::from_ptr(&raw mut (*desc).resv)
            .store(4, std::sync::atomic::Ordering::Release);
    }
    let (mut client, server) = tcp_pair();
    let stream = byte_stream(sizes.iter().sum());
    let layout = MsgLayout::new(std::mem::size_of::<libc::sockaddr_in>() as u32, 0);
    let mut offsets = [0usize; 4];
    let mut seen_bids = Vec::new();
    ring.scope(|s| {
        s.push(RecvMsgMulti::new(&server, &layout, BufferGroup::new(BGID)).user_data(1))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        let mut sent = 0;
        for (i, &size) in sizes.iter().enumerate() {
            client.write_all(&stream[sent..sent + size]).unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let cqe = s.completions().next().expect("a completion");
            assert!(
                cqe.res() >= 0,
                "send {i}: recvmsg multishot failed: {cqe:?}"
            );
            assert!(cqe.has_more(), "send {i}: {cqe:?}");
            let res = cqe.res() as usize;
            assert_eq!(res, HDR + size, "send {i}: {cqe:?}");
            let bid = cqe.buffer_id().expect("CQE missing buffer id");
            assert_eq!(bid, expected_bids[i], "send {i}");
            let last_of_buffer = i + 1 == sizes.len() || expected_bids[i + 1] != bid;
            assert_eq!(
                cqe.flags() & sys::IORING_CQE_F_BUF_MORE == 0,
                last_of_buffer && i != sizes.len() - 1,
                "send {i}: the buffer is let go at its last message: {cqe:?}"
            );
            if seen_bids.last() != Some(&bid) {
                seen_bids.push(bid);
            }
            let at = usize::from(bid) * 1024 + offsets[usize::from(bid)];
            assert!(at + res <= 4 * 1024, "send {i}: past the buffers");
            // SAFETY: the bytes the kernel wrote for this completion, which
            // it is done with; later messages go after them or to other
            // buffers.
            let bytes = unsafe { std::slice::from_raw_parts(data_bufs.add(at), res) };
            let msg = RecvMsgOut::parse(bytes, &layout).expect("recvmsg_validate");
            assert_eq!(msg.control_len(), 0, "send {i}: unexpected controllen");
            assert_eq!(msg.payload_len() as usize, res - HDR, "send {i}");
            assert!(
                msg.payload() == &stream[sent..sent + size],
                "send {i}: payload content mismatch at cursor {sent}"
            );
            offsets[usize::from(bid)] += res;
            sent += size;
        }
        assert_eq!(sent, stream.len());
    });
    assert_eq!(seen_bids, [0, 1, 2, 3], "4 distinct bids");
    // SAFETY: unregisters the group registered above before its memory goes.
    unsafe { raw_buf_ring(&ring, 0, 0, BGID, 0, true) }.unwrap();
    // SAFETY: the buffers mapped above, no longer registered.
    unsafe { libc::munmap(data_bufs.cast(), 4 * 1024) };
    drop(descs);
}

// ---------------------------------------------------------------- mshot-shutdown-race.c

/// `iterations` times: a new connected pair (Unix, or TCP over loopback if
/// `inet`) and a multishot receive on one end over a ring of 4 buffers of
/// 256 bytes; a thread sends 1 or 2 messages of 123 bytes on the other end
/// and shuts it down for writing right away. Every completion with data
/// names a buffer and says more will come; then comes exactly one end of
/// stream (0, no buffer, no `IORING_CQE_F_MORE`), after all the bytes.
fn mshot_shutdown_race(inet: bool, iterations: usize) {
    use std::os::unix::net::UnixStream;
    use std::sync::mpsc;
    let _watch = uring_tests::watchdog();
    const SEND_SIZE: usize = 123;
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 0, 4, 256) else {
        return;
    };
    let (work, jobs) = mpsc::channel::<(OwnedFd, usize)>();
    let client = std::thread::spawn(move || {
        let buf = [0u8; SEND_SIZE];
        for (fd, nr_sends) in jobs {
            let mut file = std::fs::File::from(fd);
            for _ in 0..nr_sends {
                file.write_all(&buf).unwrap();
            }
            // SAFETY: shutdown on the open socket `file` owns.
            let rc = unsafe { libc::shutdown(file.as_raw_fd(), libc::SHUT_WR) };
            assert_eq!(rc, 0, "shutdown: {}", std::io::Error::last_os_error());
        }
    });
    for i in 0..iterations {
        let nr_sends = (i & 1) + 1;
        let (client_end, server_end): (OwnedFd, OwnedFd) = if inet {
            let (c, s) = tcp_pair();
            (c.into(), s.into())
        } else {
            let (c, s) = UnixStream::pair().unwrap();
            (c.into(), s.into())
        };
        let received = ring.scope(|s| {
            s.push(
                Recv::new(&server_end, pool.select())
                    .recv_flags(RecvFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            work.send((client_end.try_clone().unwrap(), nr_sends))
                .unwrap();
            let mut received = 0;
            let mut eof = false;
            while !eof {
                s.wait_timeout(1, PATIENCE).unwrap_or_else(|e| {
                    panic!("iteration {i}: seems stuck after {received} bytes: {e}")
                });
                for mut cqe in s.completions() {
                    assert!(
                        !eof,
                        "iteration {i}: a completion after end of stream: {cqe:?}"
                    );
                    match cqe.res() {
                        res if res > 0 => {
                            assert!(cqe.has_more(), "iteration {i}: {cqe:?}");
                            assert!(cqe.buffer_id().is_some(), "iteration {i}: {cqe:?}");
                            received += pool.claim(&mut cqe).unwrap().len();
                        }
                        0 => {
                            assert!(!cqe.has_more(), "iteration {i}: {cqe:?}");
                            assert_eq!(cqe.buffer_id(), None, "iteration {i}: {cqe:?}");
                            eof = true;
                        }
                        res => panic!("iteration {i}: unexpected recv {res}"),
                    }
                }
            }
            assert_eq!(s.in_flight(), 0, "the receive ended at end of stream");
            received
        });
        assert_eq!(received, nr_sends * SEND_SIZE, "iteration {i}");
    }
    drop(work);
    client.join().unwrap();
    assert_eq!(pool.available().unwrap(), 4);
}

/// liburing test/mshot-shutdown-race.c (AF_UNIX): a send and a shutdown
/// that both arrive before the multishot receive reacts to the first are
/// each reported, the data first.
#[test]
fn mshot_shutdown_race_unix_data_then_one_eof() {
    mshot_shutdown_race(false, 2000);
}

/// liburing test/mshot-shutdown-race.c (`TEST_USE_INET`): the same over TCP.
#[test]
fn mshot_shutdown_race_tcp_data_then_one_eof() {
    mshot_shutdown_race(true, 500);
}

// ---------------------------------------------------------------- accept-mshot-stress.c

/// A listening TCP socket on an ephemeral loopback port, with a backlog of
/// 256 as in the C test.
fn listener_256() -> TcpListener {
    let fd = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    uring_tests::set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1).unwrap();
    let listener = TcpListener::from(fd);
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: bind and listen on the open socket, with a valid address
    // that lives for the call.
    unsafe {
        assert_eq!(
            libc::bind(
                listener.as_raw_fd(),
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            0
        );
        assert_eq!(libc::listen(listener.as_raw_fd(), 256), 0);
    }
    listener
}

/// Runs a multishot accept of `listener` (armed again whenever a completion
/// says no more will come) until `want` connections are accepted: calls
/// `armed` once the accept is submitted, `on_conn` with each connection,
/// and `between` after each batch of completions with the count so far;
/// panics on an accept error or no connection within 5 s. Returns how
/// many times the accept was armed.
fn accept_mshot(
    ring: &mut Ring,
    listener: &TcpListener,
    want: usize,
    armed: impl FnOnce(),
    mut on_conn: impl FnMut(OwnedFd),
    mut between: impl FnMut(usize),
) -> usize {
    use uring::AcceptFlags;
    use uring::ops::Accept;
    let accept = || {
        Accept::new(listener)
            .iou_flags(AcceptFlags::MULTISHOT)
            .user_data(1000)
    };
    ring.scope(|s| {
        s.push(accept()).unwrap();
        assert_eq!(s.submit().unwrap(), 1);
        armed();
        let mut arms = 1;
        let mut accepted = 0;
        while accepted < want {
            s.wait_timeout(1, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("accepted {accepted}, expected {want}: {e}"));
            let mut again = false;
            for cqe in s.completions() {
                assert_eq!(cqe.user_data(), 1000, "{cqe:?}");
                assert!(cqe.res() >= 0, "accept res: {cqe:?}");
                // SAFETY: the accept just made this descriptor, owned by
                // no one else.
                on_conn(unsafe { OwnedFd::from_raw_fd(cqe.res()) });
                accepted += 1;
                again |= !cqe.has_more();
            }
            between(accepted);
            if again && accepted < want {
                s.push(accept()).unwrap();
                s.submit().unwrap();
                arms += 1;
            }
        }
        assert_eq!(accepted, want, "more connections than made");
        arms
    })
}

/// Whether this kernel has multishot accept (5.19), with a skip message if
/// not.
fn require_mshot_accept() -> bool {
    uring_tests::require_kernel(5, 19, "multishot accept")
}

/// liburing test/accept-mshot-stress.c (test_accept_mshot_stress): one
/// multishot accept takes 200 connections that a client makes and closes
/// as fast as it can; each completion is a new, open descriptor of a
/// connected socket.
#[test]
fn accept_mshot_stress_takes_every_rapid_connection() {
    let _watch = uring_tests::watchdog();
    const NR_CONNS: usize = 200;
    if !require_mshot_accept() {
        return;
    }
    let mut ring = Ring::new(512).unwrap();
    let listener = listener_256();
    let addr = listener.local_addr().unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let client = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            for _ in 0..NR_CONNS {
                drop(TcpStream::connect(addr).unwrap());
            }
        })
    };
    let mut peers = std::collections::HashSet::new();
    accept_mshot(
        &mut ring,
        &listener,
        NR_CONNS,
        || {
            barrier.wait();
        },
        |fd| {
            let conn = TcpStream::from(fd);
            assert_eq!(conn.local_addr().unwrap(), addr);
            assert!(
                peers.insert(conn.peer_addr().unwrap()),
                "a connection twice"
            );
        },
        |_| {},
    );
    client.join().unwrap();
    assert_eq!(peers.len(), NR_CONNS);
}

/// liburing test/accept-mshot-stress.c (test_accept_mshot_burst): four
/// rounds in which a client opens 32 connections at once and keeps them
/// open until the multishot accept has taken all 32, then closes them: 128
/// in all, 32 per round.
#[test]
fn accept_mshot_stress_takes_bursts_of_connections() {
    let _watch = uring_tests::watchdog();
    const NR_BURST: usize = 32;
    const NR_ROUNDS: usize = 4;
    if !require_mshot_accept() {
        return;
    }
    let mut ring = Ring::new(256).unwrap();
    let listener = listener_256();
    let addr = listener.local_addr().unwrap();
    let start = Arc::new(Barrier::new(2));
    let round = Arc::new(Barrier::new(2));
    let client = {
        let (start, round) = (start.clone(), round.clone());
        std::thread::spawn(move || {
            start.wait();
            for _ in 0..NR_ROUNDS {
                let conns: Vec<TcpStream> = (0..NR_BURST)
                    .map(|_| TcpStream::connect(addr).unwrap())
                    .collect();
                // All open; then wait for the server to drain them.
                round.wait();
                round.wait();
                drop(conns);
            }
        })
    };
    let mut per_round = Vec::new();
    let mut last = 0;
    accept_mshot(
        &mut ring,
        &listener,
        NR_BURST * NR_ROUNDS,
        || {
            start.wait();
            round.wait();
        },
        drop,
        |accepted| {
            assert!(
                accepted <= (per_round.len() + 1) * NR_BURST,
                "more connections than the round opened: {accepted}"
            );
            if accepted == (per_round.len() + 1) * NR_BURST {
                per_round.push(accepted - last);
                last = accepted;
                round.wait();
                if per_round.len() < NR_ROUNDS {
                    round.wait();
                }
            }
        },
    );
    client.join().unwrap();
    assert_eq!(per_round, [NR_BURST; NR_ROUNDS]);
}

/// liburing test/accept-mshot-stress.c (test_accept_mshot_reconnect): a
/// client connects, sends one byte (0xa5) and closes, 300 times over; the
/// multishot accept takes each connection, and its byte reads back.
#[test]
fn accept_mshot_stress_reconnecting_clients_each_deliver_their_byte() {
    let _watch = uring_tests::watchdog();
    const NR_RECONNECTS: usize = 300;
    if !require_mshot_accept() {
        return;
    }
    let mut ring = Ring::new(512).unwrap();
    let listener = listener_256();
    let addr = listener.local_addr().unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let client = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            for _ in 0..NR_RECONNECTS {
                let mut conn = TcpStream::connect(addr).unwrap();
                conn.write_all(&[0xa5]).unwrap();
            }
        })
    };
    let mut bytes = 0;
    accept_mshot(
        &mut ring,
        &listener,
        NR_RECONNECTS,
        || {
            barrier.wait();
        },
        |fd| {
            let mut conn = TcpStream::from(fd);
            conn.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut byte = [0u8; 1];
            conn.read_exact(&mut byte).unwrap();
            assert_eq!(byte, [0xa5], "bad byte");
            bytes += 1;
        },
        |_| {},
    );
    client.join().unwrap();
    assert_eq!(bytes, NR_RECONNECTS);
}

// ---------------------------------------------------------------- recvsend_bundle-inc.c

/// One round of recvsend_bundle-inc.c's `test()`: a TCP connection; the
/// receiver (a thread with a ring of 4096 CQEs) takes everything through a
/// multishot receive (a bundle if `recv_bundle`) over an incremental ring
/// of one 1 MiB buffer. The sender first sends messages of 128 bytes (16
/// sequence numbers each) with `MSG_DONTWAIT` until `max_sends` or
/// `EAGAIN`, then `nr_msgs` more from a ring of `nr_msgs` provided buffers
/// of 128 bytes: one `Send` per buffer, or, if `send_bundle`, one bundle,
/// whose completions each say more will come until the last. Every receive
/// completion names buffer 0 and says `IORING_CQE_F_BUF_MORE`, and the
/// bytes received are the sequence, whole and in order. Returns how many
/// messages the first phase sent.
fn bundle_inc_round(
    nr_msgs: usize,
    max_sends: usize,
    send_bundle: bool,
    recv_bundle: bool,
) -> usize {
    use std::sync::mpsc;
    use uring::SendFlags;
    use uring::ops::Send;
    const MSG_SIZE: usize = 128;
    const RECV_BIDS: u32 = 8192;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (total_tx, total_rx) = mpsc::channel::<usize>();
    let armed = Arc::new(Barrier::new(2));
    let receiver = {
        let armed = armed.clone();
        std::thread::spawn(move || {
            let mut ring = Ring::builder().cq_entries(4096).build(16).unwrap();
            let pool = ring
                .register_buf_ring_incremental(BufferGroup::new(8), 1, MSG_SIZE as u32 * RECV_BIDS)
                .unwrap();
            let (conn, _) = listener.accept().unwrap();
            let total = total_rx.recv().unwrap();
            armed.wait();
            let flags = if recv_bundle {
                RecvFlags::MULTISHOT | RecvFlags::BUNDLE
            } else {
                RecvFlags::MULTISHOT
            };
            let recv = || {
                Recv::new(&conn, pool.select())
                    .recv_flags(flags)
                    .user_data(2)
            };
            ring.scope(|s| {
                s.push(recv()).unwrap();
                s.submit().unwrap();
                let mut got = Vec::with_capacity(total);
                while got.len() < total {
                    s.wait_timeout(1, PATIENCE)
                        .unwrap_or_else(|e| panic!("{e}: received {} of {total}", got.len()));
                    let mut again = false;
                    for mut cqe in s.completions() {
                        assert!(cqe.res() > 0, "failed recv cqe: {cqe:?}");
                        assert_eq!(cqe.buffer_id(), Some(0), "{cqe:?}");
                        assert!(
                            cqe.flags() & sys::IORING_CQE_F_BUF_MORE != 0,
                            "CQE_F_BUF_MORE not set: {cqe:?}"
                        );
                        let bufs = if recv_bundle {
                            pool.claim_bundle(&mut cqe).unwrap()
                        } else {
                            vec![pool.claim(&mut cqe).unwrap()]
                        };
                        for buf in bufs {
                            got.extend_from_slice(&buf);
                        }
                        again |= !cqe.has_more();
                    }
                    if again && got.len() < total {
                        s.push(recv()).unwrap();
                        s.submit().unwrap();
                    }
                }
                got
            })
        })
    };
    let mut ring = Ring::new(16).unwrap();
    let pool = ring
        .register_buf_ring(BufferGroup::new(7), nr_msgs as u16, MSG_SIZE as u32)
        .unwrap();
    let conn = TcpStream::connect(addr).unwrap();
    uring_tests::set_int_option(
        &conn,
        libc::SOL_SOCKET,
        libc::SO_SNDBUF,
        (1024 * MSG_SIZE) as i32,
    )
    .unwrap();
    // Almost fill the socket: messages until `max_sends` or EAGAIN.
    let mut expected = Vec::new();
    let mut seq = 0u64;
    let mut to_eagain = 0;
    while to_eagain < max_sends {
        let msg = uring_tests::seq_bytes(seq, MSG_SIZE / 8);
        // SAFETY: send on the open socket, from a buffer that lives for the
        // call.
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
    // The provided buffers hold the next messages, in the order the kernel
    // picks them.
    let provided = uring_tests::seq_bytes(seq, nr_msgs * MSG_SIZE / 8);
    uring_tests::fill_send_buffers(&mut ring, &pool, &provided);
    expected.extend_from_slice(&provided);
    total_tx.send(expected.len()).unwrap();
    let needed = nr_msgs * MSG_SIZE;
    ring.scope(|s| {
        if send_bundle {
            // Length 0, as `io_uring_prep_send_bundle(sqe, fd, 0, 0)`: the
            // bundle's length caps the bytes its first attempt sends, and
            // `pool.select()` (one buffer's length) would cap it at one
            // buffer, which, over a full socket, ends the send there.
            s.push(
                Send::new(&conn, pool.group().select(0))
                    .send_flags(SendFlags::BUNDLE)
                    .user_data(1),
            )
            .unwrap();
            assert_eq!(s.submit().unwrap(), 1);
            armed.wait();
            let mut sent = 0;
            while sent < needed {
                s.wait_timeout(1, PATIENCE)
                    .unwrap_or_else(|e| panic!("wait send: {e} after {sent}"));
                for mut cqe in s.completions() {
                    assert!(cqe.res() > 0, "bad send cqe res: {cqe:?}");
                    sent += cqe.res() as usize;
                    assert!(sent <= needed, "sent {sent} of {needed}");
                    if sent < needed {
                        assert!(cqe.has_more(), "expected more, but MORE not set: {cqe:?}");
                    }
                    drop(pool.claim_bundle(&mut cqe).unwrap());
                }
            }
        } else {
            for i in 0..nr_msgs {
                s.push(Send::new(&conn, pool.select()).user_data(10 + i as u64))
                    .unwrap();
                assert_eq!(s.submit().unwrap(), 1);
                if i == 0 {
                    armed.wait();
                }
                s.wait_timeout(1, PATIENCE).unwrap();
                let mut cqe = s.completions().next().expect("a completion");
                assert_eq!(cqe.user_data(), 10 + i as u64);
                assert_eq!(cqe.res(), MSG_SIZE as i32, "send failed cqe: {cqe:?}");
                drop(pool.claim(&mut cqe).unwrap());
            }
        }
    });
    let got = receiver.join().unwrap();
    assert_eq!(got.len(), expected.len(), "bytes received");
    if let Some(at) = got.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!("sequence broken at byte {at} of {}", expected.len());
    }
    to_eagain
}

/// Whether this kernel has send and receive bundles and incremental buffer
/// rings, with a skip message if not.
fn require_bundle_inc() -> bool {
    let mut ring = Ring::new(1).unwrap();
    uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "send bundles")
        && incremental_buf_ring(&mut ring, 8, 1, 4096).is_some()
}

/// liburing test/recvsend_bundle-inc.c (tests a, b, c): four provided
/// buffers sent one send each into a multishot receive over an incremental
/// ring; the same into a receive bundle; and as one send bundle into a
/// receive bundle.
#[test]
fn recvsend_bundle_inc_sends_and_bundles_into_an_incremental_ring() {
    let _watch = uring_tests::watchdog();
    if !require_bundle_inc() {
        return;
    }
    bundle_inc_round(4, 0, false, false);
    bundle_inc_round(4, 0, false, true);
    bundle_inc_round(4, 0, true, true);
}

/// liburing test/recvsend_bundle-inc.c (tests d to g): the socket filled to
/// `EAGAIN` before a send bundle of 4 buffers, then filled to 2 messages
/// short of that before bundles on both sides, a receive bundle only, and
/// a send bundle only.
#[test]
fn recvsend_bundle_inc_bundles_over_a_full_socket() {
    let _watch = uring_tests::watchdog();
    if !require_bundle_inc() {
        return;
    }
    let eagain_hit = bundle_inc_round(4, usize::MAX, true, true);
    assert!(eagain_hit > 2, "the socket took {eagain_hit} messages");
    bundle_inc_round(4, eagain_hit - 2, true, true);
    bundle_inc_round(4, eagain_hit - 2, false, true);
    bundle_inc_round(4, eagain_hit - 2, true, false);
}

/// liburing test/recvsend_bundle-inc.c (tests h, i, j): as above with 32
/// buffers, more segments than the kernel's fast iovec array.
#[test]
fn recvsend_bundle_inc_many_segments_over_an_almost_full_socket() {
    let _watch = uring_tests::watchdog();
    if !require_bundle_inc() {
        return;
    }
    let eagain_hit = bundle_inc_round(32, usize::MAX, true, true);
    assert!(eagain_hit > 16, "the socket took {eagain_hit} messages");
    bundle_inc_round(32, eagain_hit - 16, true, true);
    bundle_inc_round(32, eagain_hit - 16, false, true);
    bundle_inc_round(32, eagain_hit - 16, true, false);
}
