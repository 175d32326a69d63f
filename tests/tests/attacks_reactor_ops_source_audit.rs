//! An audit of the reactor's ops one by one, and attacks on each from safe
//! code: every `unsafe impl Op` and `unsafe impl MultishotOp` of
//! `uring/src/reactor/ops.rs`, the traits they rest on
//! (`uring/src/reactor/op.rs`; `IoBuf`, `IoBufMut` and `Slice` of
//! `uring/src/reactor/buf.rs`; `RingBuf` of `uring/src/reactor/ring_buf.rs`)
//! and the way `uring/src/reactor/core.rs` and `cell.rs` keep an op's value
//! in its slot and hand it its completions (`complete` at the last one, for
//! a future dropped before it too; `each` for every item of a stream, read
//! or not).
//!
//! For each op, its `sqe()` was read for the memory the SQE names (all of
//! it the op's own: a buffer's `bytes_total` or `bytes_init`, a `Slice`'s
//! clamped range, a `Vec`'s capacity, the op's own header, iovecs, address
//! and control room, boxed `statx` and pipe pair, `CString` paths), and its
//! `complete()` for what it believes of the kernel: a count is clamped to
//! what was lent (`filled`), an address length to its storage
//! (`SockAddrBuf::set_len`), a control length to the room; a descriptor is
//! owned only from a successful result of an op that makes one (`made_fd`,
//! `Pipe`'s zero) or from the records the kernel wrote into the op's own
//! control room. Completions cannot be forged (a tag mixes a per-reactor
//! secret from `getrandom(2)` and the slot's generation;
//! `reactor_ops.rs::forged_completions_are_ignored`), so the attacks make
//! the kernel itself give odd answers instead: files that shrink and grow
//! under reads, datagrams of any size into vectors of capacity 0, 1, full
//! and spare, vectors past 4 GiB, slices of every range of bytes that end
//! at a `PROT_NONE` page, receives at the end of a stream from a buffer
//! ring, connections reset before their accept, opens of a FIFO that
//! nobody awaits any more, `statx` of files removed meanwhile, and a
//! descriptor-passing receive on a socket whose options add a record the
//! op did not make room for.
//!
//! The kernel code read: `io_read`/`io_readv` and `import_ubuf` /
//! `__import_iovec` (`MAX_RW_COUNT` caps, `lib/iov_iter.c`),
//! `io_recvmsg` over `____sys_recvmsg` (the name and control lengths it
//! writes back into the op's header), `udp_recvmsg` (a datagram cut to the
//! iovec, its sender still named), `io_accept` / `inet_getname` (a peer
//! name for `peer == 2` whatever the child's state), `fifo_open`,
//! `vfs_statx` / `cp_statx`, `__unix_dgram_recvmsg` (`__sock_recv_timestamp`
//! before `scm_recv_unix`), `put_cmsg` and `scm_detach_fds` (a cut record
//! fills the room; descriptors that do not fit are closed, `MSG_CTRUNC`).
//!
//! What was found: the ops touch only what they own, and `complete` trusts
//! no count past what was lent. `RecvWithFds` made room for the records of
//! `SO_PASSCRED` and `SO_PASSPIDFD` besides its descriptors, not for the
//! timestamp record that `SO_TIMESTAMP` (or `SO_TIMESTAMPNS`) adds on a
//! Unix datagram socket; that record took the room, and the kernel closed
//! the passed descriptors (none leaked), which the output (no `MSG_CTRUNC`
//! in it) could not tell. It now keeps room for the records of the
//! timestamp options (and of a security label) too, when they are on
//! (`descriptors_received_on_a_timestamping_socket_keep_the_room_made_for_them`).
//!
//! Tests that read bytes the kernel wrote into a vector's spare capacity
//! (memory valgrind's memcheck does not see the kernel write through the
//! ring), to be skipped under memcheck:
//! `vectored_reads_lend_each_vec_s_capacity_and_grow_its_length_only_by_what_it_got`,
//! `reads_of_a_file_that_shrinks_and_grows_fill_only_what_they_report`,
//! `datagrams_into_capacities_0_1_full_and_spare_take_one_datagram_each`,
//! `vectors_larger_than_4_gib_take_exactly_what_was_there`,
//! `descriptors_received_with_the_records_the_op_makes_room_for_all_arrive`
//! and `descriptors_received_on_a_timestamping_socket_keep_the_room_made_for_them`.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt as _;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use uring::reactor::ops::{
    Accept, AcceptFrom, AcceptMulti, OpenAt, Read, ReadV, Recv, RecvFrom, RecvRing, RecvWithFds,
    Send, SendTo, SendV, SendWithFds, SendZc, Statx, Write, WriteV,
};
use uring::reactor::{IoBuf, Reactor, SharedFd, Slice};
use uring_tests::fifo::{has_reader as fifo_has_reader, open_writer as writer, temp_fifo as fifo};
use uring_tests::{pattern, skip, watchdog};

/// What every byte a test lends starts as.
const CANARY: u8 = 0xc5;

/// A vector of length `len` and capacity `cap` whose every byte, its
/// spare capacity included, is the canary.
fn canaried(len: usize, cap: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(cap);
    for b in v.spare_capacity_mut() {
        b.write(CANARY);
    }
    v.resize(len, CANARY);
    v
}

/// The bytes of `v`'s spare capacity, which [`canaried`] initialised.
fn spare_of(v: &mut Vec<u8>) -> Vec<u8> {
    v.spare_capacity_mut()
        .iter()
        // SAFETY: every byte of the vector's capacity was initialised (to
        // the canary) when it was made, and the vector was never
        // reallocated since (the callers check its pointer); the kernel
        // writes only whole bytes.
        .map(|b| unsafe { b.assume_init() })
        .collect()
}

/// The errno of a failed result.
fn errno<T: std::fmt::Debug>(r: &std::io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(|e| e.raw_os_error())
}

// ---------------------------------------------------------------------------
// Owned buffers: what a read lends, what `complete` believes
// ---------------------------------------------------------------------------

/// `ReadV::sqe` lends each vector's whole capacity (`spare_iovec`), and
/// `complete` splits the count across them in turn, growing a length only
/// to what its vector received (`Vec::set_init` never shrinks). Vectors of
/// capacity 0, 1, full (`len == capacity`) and with spare capacity, read
/// whole, then by a read cut short at 6, 1 and 0 bytes from the file's
/// end: each vector holds exactly its share from its first byte, a full
/// vector keeps its length, and every byte past what the kernel reported,
/// in the spare capacity included, keeps its canary.
#[test]
fn vectored_reads_lend_each_vec_s_capacity_and_grow_its_length_only_by_what_it_got() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let data = pattern(64, 17);
    let fd = SharedFd::new(uring_tests::file_of(&data));
    let shapes = || vec![Vec::new(), canaried(0, 1), canaried(3, 3), canaried(2, 8)];
    // (offset, bytes each vector gets)
    for (offset, shares) in [
        (0u64, [0usize, 1, 3, 8]),
        (58, [0, 1, 3, 2]),
        (63, [0, 1, 0, 0]),
        (64, [0, 0, 0, 0]),
    ] {
        let bufs = shapes();
        let caps: Vec<usize> = bufs.iter().map(Vec::capacity).collect();
        let ptrs: Vec<*const u8> = bufs.iter().map(|b| b.as_ptr()).collect();
        let lens: Vec<usize> = bufs.iter().map(Vec::len).collect();
        let (r, mut bufs) = reactor
            .run_until(reactor.op(ReadV::new(&fd, bufs, offset)))
            .unwrap();
        let total: usize = shares.iter().sum();
        assert_eq!(r.unwrap() as usize, total, "offset {offset}");
        let mut at = offset as usize;
        for (i, buf) in bufs.iter_mut().enumerate() {
            assert_eq!(
                (buf.capacity(), buf.as_ptr()),
                (caps[i], ptrs[i]),
                "offset {offset}, vector {i} moved"
            );
            let got = shares[i];
            assert_eq!(buf.len(), lens[i].max(got), "offset {offset}, vector {i}");
            assert_eq!(
                &buf[..got],
                &data[at..at + got],
                "offset {offset}, vector {i}"
            );
            assert!(
                buf[got..].iter().all(|&b| b == CANARY),
                "offset {offset}, vector {i}: a byte past its share changed: {buf:?}"
            );
            assert!(
                spare_of(buf).iter().all(|&b| b == CANARY),
                "offset {offset}, vector {i}: its spare capacity changed"
            );
            at += got;
        }
    }
}

/// A read lends a vector's capacity and `complete` believes the count the
/// kernel returned: while another thread shrinks the file to nothing and
/// grows it back (with its bytes, or a hole of zeros), 400 reads into
/// vectors of 4 KiB at offsets inside and across the changing end each
/// return at most the capacity, set the length to exactly that count, hold
/// at each position the file's byte or a zero, and leave every byte past
/// the count, in the spare capacity, as it was.
#[test]
fn reads_of_a_file_that_shrinks_and_grows_fill_only_what_they_report() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let data = pattern(12_288, 29);
    let file = uring_tests::file_of(&data);
    let fd = SharedFd::new(file.try_clone().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let changer = {
        let stop = Arc::clone(&stop);
        let rounds = Arc::clone(&rounds);
        let data = data.clone();
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let len = [0usize, 100, 4096, 5000, 12_288, 7][round % 6];
                file.set_len(0).unwrap();
                if round.is_multiple_of(2) {
                    file.write_all_at(&data[..len], 0).unwrap();
                } else {
                    // A hole: zeros up to the new end.
                    file.set_len(len as u64).unwrap();
                }
                round += 1;
                rounds.store(round, Ordering::Relaxed);
            }
        })
    };
    while rounds.load(Ordering::Relaxed) < 10 {
        std::thread::yield_now();
    }
    let mut counts = std::collections::BTreeSet::new();
    for i in 0..400usize {
        let offset = [0usize, 3000, 4096, 9000][i % 4];
        let buf = canaried(0, 4096);
        let ptr = buf.as_ptr();
        let (r, mut buf) = reactor
            .run_until(reactor.op(Read::new(&fd, buf, offset as u64)))
            .unwrap();
        let n = r.unwrap() as usize;
        counts.insert(n);
        assert_eq!((buf.as_ptr(), buf.capacity()), (ptr, 4096));
        assert!(n <= 4096, "read {n} bytes into 4096");
        assert_eq!(buf.len(), n);
        for (k, &b) in buf.iter().enumerate() {
            assert!(
                b == data[offset + k] || b == 0,
                "read {i}: byte {k} at {offset} is {b:#x}"
            );
        }
        assert!(
            spare_of(&mut buf).iter().all(|&b| b == CANARY),
            "read {i}: a byte past the {n} reported changed"
        );
    }
    stop.store(true, Ordering::Relaxed);
    changer.join().unwrap();
    // Counts of the whole file alone would be 4096 and 3288.
    assert!(
        counts.iter().any(|n| ![4096, 3288].contains(n)),
        "no read saw the file change: {counts:?}"
    );
}

/// `RecvFrom::sqe` lends the vector's capacity through its own iovec, and
/// `complete` takes the sender's name from the length the kernel wrote
/// into the op's header: datagrams of 5 bytes into vectors of capacity 0,
/// 1, 3 (full) and 8 (2 of them used) each take one datagram (the rest of
/// it is dropped, `udp_recvmsg` cuts it to the iovec), name its sender,
/// and grow the vector by what fit and no more; a plain `Recv` of
/// capacity 0 takes a whole datagram too. Nothing is left queued after.
#[test]
fn datagrams_into_capacities_0_1_full_and_spare_take_one_datagram_each() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    let from = tx.local_addr().unwrap();
    let rx_fd = SharedFd::new(OwnedFd::from(rx.try_clone().unwrap()));
    let datagrams: [&[u8]; 5] = [b"abcde", b"fghij", b"klmno", b"pqrst", b"uvwxy"];
    for d in datagrams {
        tx.send_to(d, to).unwrap();
    }
    // (the vector, bytes that fit)
    let cases = [
        (Vec::new(), 0usize),
        (canaried(0, 1), 1),
        (canaried(3, 3), 3),
        (canaried(2, 8), 5),
    ];
    for (i, (buf, fit)) in cases.into_iter().enumerate() {
        let (cap, ptr, len) = (buf.capacity(), buf.as_ptr(), buf.len());
        let (r, (mut buf, sender)) = reactor
            .run_until(reactor.op(RecvFrom::new(&rx_fd, buf)))
            .unwrap();
        assert_eq!(r.unwrap() as usize, fit, "datagram {i}");
        assert_eq!(sender, Some(from), "datagram {i}");
        assert_eq!((buf.capacity(), buf.as_ptr()), (cap, ptr));
        assert_eq!(buf.len(), len.max(fit), "datagram {i}");
        assert_eq!(&buf[..fit], &datagrams[i][..fit], "datagram {i}");
        assert!(buf[fit..].iter().all(|&b| b == CANARY), "datagram {i}");
        assert!(
            spare_of(&mut buf).iter().all(|&b| b == CANARY),
            "datagram {i}: the spare capacity changed"
        );
    }
    let (r, buf) = reactor
        .run_until(reactor.op(Recv::new(&rx_fd, Vec::new())))
        .unwrap();
    assert_eq!((r.unwrap(), buf.len()), (0, 0));
    rx.set_nonblocking(true).unwrap();
    let mut rest = [0u8; 16];
    let left = rx.recv_from(&mut rest);
    assert_eq!(
        left.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::WouldBlock),
        "a datagram was left: {left:?}"
    );
}

/// A vector past 4 GiB (address space only: its pages are never touched)
/// lends its capacity: `Read` and `Recv` through an SQE length clamped to
/// `u32::MAX` (`op/field.rs`), `ReadV` and `RecvFrom` through an iovec the
/// kernel caps at `MAX_RW_COUNT` (`__import_iovec`). Each takes exactly
/// what was there (100 bytes), or, if this kernel refused the length,
/// fails without a byte and leaves the data for the next op.
#[test]
fn vectors_larger_than_4_gib_take_exactly_what_was_there() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut huge: Vec<u8> = Vec::new();
    if huge.try_reserve_exact((1usize << 32) + 4096).is_err() {
        skip("no room for a vector over 4 GiB");
        return;
    }
    let cap = huge.capacity();
    let data = pattern(100, 41);
    let file = SharedFd::new(uring_tests::file_of(&data));
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    let rx = SharedFd::new(OwnedFd::from(rx));
    let check = |what: &str, r: std::io::Result<u32>, huge: &mut Vec<u8>| {
        assert_eq!(huge.capacity(), cap, "{what}");
        match r {
            Ok(n) => {
                assert_eq!(n, 100, "{what}");
                assert_eq!(&huge[..], &data[..], "{what}");
            }
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{what}: {e}");
                assert!(huge.is_empty(), "{what}");
            }
        }
        huge.clear();
    };
    let (r, mut huge) = reactor
        .run_until(reactor.op(Read::new(&file, huge, 0)))
        .unwrap();
    check("read", r, &mut huge);
    let (r, mut bufs) = reactor
        .run_until(reactor.op(ReadV::new(&file, vec![huge], 0)))
        .unwrap();
    let mut huge = bufs.pop().unwrap();
    check("vectored read", r, &mut huge);
    for what in ["receive", "receive from"] {
        tx.send_to(&data, to).unwrap();
        let (r, mut back) = if what == "receive" {
            reactor.run_until(reactor.op(Recv::new(&rx, huge))).unwrap()
        } else {
            let (r, (back, sender)) = reactor
                .run_until(reactor.op(RecvFrom::new(&rx, huge)))
                .unwrap();
            if r.is_ok() {
                assert_eq!(sender, Some(tx.local_addr().unwrap()));
            }
            (r, back)
        };
        let refused = r.is_err();
        check(what, r, &mut back);
        if refused {
            // The datagram waits for a receive of an ordinary size.
            let (r, small) = reactor
                .run_until(reactor.op(Recv::new(&rx, Vec::with_capacity(128))))
                .unwrap();
            assert_eq!((r.unwrap(), &small[..]), (100, &data[..]));
        }
        huge = back;
    }
}

/// Slices of bytes that end at a `PROT_NONE` page, of every range of five
/// bytes (21 of them, the empty ones included, down to the empty slice at
/// the guard page's first byte), through `Send`, `Write`, `SendTo`,
/// `SendZc`, and as two slices (`begin..end`, then `end..`) through
/// `WriteV` and `SendV`: each op sends exactly its range (a byte read past
/// it would fault the op with `EFAULT`), and gives the slices back whole.
#[test]
fn slices_of_every_range_ending_at_a_guard_page_send_exactly_their_range() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mem = uring_tests::Guarded::new(5).leak();
    let at = mem.len() - 5;
    mem[at..].copy_from_slice(b"01234");
    let bytes: &'static [u8] = &mem[at..];

    let (a, mut b) = UnixStream::pair().unwrap();
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let stream = SharedFd::new(OwnedFd::from(a));
    let (client, mut server) = uring_tests::tcp_pair();
    let client = SharedFd::new(OwnedFd::from(client));
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let to = rx.local_addr().unwrap();
    let tx = SharedFd::new(OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap()));
    let file = tempfile::tempfile().unwrap();
    let file_fd = SharedFd::new(file.try_clone().unwrap());
    let vectored_sends = uring_tests::kernel_version() >= (6, 17);
    if !vectored_sends {
        skip("vectored sends need Linux 6.17: SendV left out");
    }

    let read_n = |s: &mut dyn std::io::Read, n: usize| {
        let mut got = vec![0u8; n];
        s.read_exact(&mut got).unwrap();
        got
    };
    let file_bytes = |file: &mut std::fs::File| {
        let mut got = Vec::new();
        file.read_to_end(&mut got).unwrap();
        got
    };
    for begin in 0..=5usize {
        for end in begin..=5usize {
            let want = &bytes[begin..end];
            let case = format!("{begin}..{end}");
            let slice = || bytes.slice(begin..end);
            assert_eq!(slice().as_bytes(), want, "{case}");

            let (r, back) = reactor
                .run_until(reactor.op(Send::new(&stream, slice())))
                .unwrap();
            assert_eq!(r.unwrap() as usize, want.len(), "send {case}");
            assert_eq!((back.begin(), back.end()), (begin, end));
            assert_eq!(read_n(&mut b, want.len()), want, "send {case}");

            file.set_len(0).unwrap();
            let (r, _) = reactor
                .run_until(reactor.op(Write::new(&file_fd, slice(), 0)))
                .unwrap();
            assert_eq!(r.unwrap() as usize, want.len(), "write {case}");
            assert_eq!(file.read_at(&mut [0u8; 8], 0).unwrap(), want.len());
            let mut got = vec![0u8; want.len()];
            file.read_exact_at(&mut got, 0).unwrap();
            assert_eq!(got, want, "write {case}");

            let (r, _) = reactor
                .run_until(reactor.op(SendTo::new(&tx, slice(), to)))
                .unwrap();
            assert_eq!(r.unwrap() as usize, want.len(), "send to {case}");
            let mut got = [0u8; 16];
            let n = rx.recv(&mut got).unwrap();
            assert_eq!(&got[..n], want, "send to {case}");

            let (r, _) = reactor
                .run_until(reactor.op(SendZc::new(&client, slice())))
                .unwrap();
            assert_eq!(r.unwrap() as usize, want.len(), "zero-copy send {case}");
            assert_eq!(read_n(&mut server, want.len()), want, "zero-copy {case}");

            let two = || vec![bytes.slice(begin..end), bytes.slice(end..)];
            let whole = &bytes[begin..];
            file.set_len(0).unwrap();
            let (r, back) = reactor
                .run_until(reactor.op(WriteV::new(&file_fd, two(), 0)))
                .unwrap();
            assert_eq!(r.unwrap() as usize, whole.len(), "vectored write {case}");
            assert_eq!(back.len(), 2);
            let mut f = file.try_clone().unwrap();
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).unwrap();
            assert_eq!(file_bytes(&mut f), whole, "vectored write {case}");

            if vectored_sends {
                let (r, _) = reactor
                    .run_until(reactor.op(SendV::new(&stream, two())))
                    .unwrap();
                assert_eq!(r.unwrap() as usize, whole.len(), "vectored send {case}");
                assert_eq!(read_n(&mut b, whole.len()), whole, "vectored send {case}");
            }
        }
    }
    // Nothing more was sent than each op reported.
    b.set_nonblocking(true).unwrap();
    let extra = b.read(&mut [0u8; 8]);
    assert_eq!(
        extra.map_err(|e| e.kind()).err(),
        Some(ErrorKind::WouldBlock)
    );
    server.set_nonblocking(true).unwrap();
    let extra = server.read(&mut [0u8; 8]);
    assert_eq!(
        extra.map_err(|e| e.kind()).err(),
        Some(ErrorKind::WouldBlock)
    );
}

/// `Slice` is `IoBuf` only: the type that narrows what a write sends
/// cannot be read into, and its range is clamped to the initialised bytes
/// whatever the bounds (checked here for the slices the test above sends).
#[test]
fn slices_clamp_every_bound_to_the_initialised_bytes() {
    for begin in 0..8usize {
        for end in 0..8usize {
            let s: Slice<Vec<u8>> = b"01234".to_vec().slice(begin..end);
            let (b, e) = (begin.min(5), end.clamp(begin.min(5), 5));
            assert_eq!((s.begin(), s.end()), (b, e), "{begin}..{end}");
            assert_eq!(s.as_bytes(), &b"01234"[b..e]);
            assert_eq!(s.into_inner(), b"01234");
        }
    }
}

// ---------------------------------------------------------------------------
// Provided buffers
// ---------------------------------------------------------------------------

/// `RecvRing::complete` hands over the buffer the completion names, and
/// only that: at the end of a stream (eight times, more than the group has
/// buffers) and on a reset connection it gives none, and no buffer is
/// lost doing so: the group's four buffers then take four receives in turn,
/// distinct and whole, a fifth finds none (`ENOBUFS`), and once they are
/// dropped the group takes four more.
#[test]
fn ring_receives_at_the_end_of_a_stream_give_no_buffer_and_lose_none() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let Some(group) = uring_tests::net::group_or_skip(&reactor.handle(), 51, 4, 16) else {
        return;
    };
    for i in 0..8 {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let fd = SharedFd::new(OwnedFd::from(a));
        let (r, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap();
        assert_eq!(r.unwrap(), 0, "end {i}");
        assert!(buf.is_none(), "end {i}: {buf:?}");
    }
    let (client, server) = uring_tests::tcp_pair();
    uring_tests::reset_on_close(&client);
    drop(client);
    std::thread::sleep(Duration::from_millis(20));
    let fd = SharedFd::new(OwnedFd::from(server));
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, group)))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::ECONNRESET), "{r:?}");
    assert!(buf.is_none());

    let (a, mut b) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(OwnedFd::from(a));
    for round in 0..2u8 {
        let sent = pattern(80, round);
        b.write_all(&sent).unwrap();
        let mut held = Vec::new();
        for k in 0..4 {
            let (r, buf) = reactor
                .run_until(reactor.op(RecvRing::new(&fd, group)))
                .unwrap();
            assert_eq!(r.unwrap(), 16, "round {round}, receive {k}");
            let buf = buf.expect("a buffer");
            assert_eq!(&buf[..], &sent[16 * k..16 * (k + 1)]);
            held.push(buf);
        }
        let mut ids: Vec<u16> = held.iter().map(|b| b.bid()).collect();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1, 2, 3], "round {round}");
        let (r, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap();
        assert_eq!(errno(&r), Some(libc::ENOBUFS), "round {round}: {r:?}");
        assert!(buf.is_none());
        // The 16 bytes left are taken once the buffers are back.
        drop(held);
        let (r, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap();
        assert_eq!(r.unwrap(), 16);
        assert_eq!(&buf.unwrap()[..], &sent[64..]);
    }
}

// ---------------------------------------------------------------------------
// Descriptors the kernel makes for an op
// ---------------------------------------------------------------------------

/// Connections reset by their client before the accept: `inet_getname`
/// names a peer for an accept (`peer == 2`) whatever the child's state, so
/// `AcceptFrom` gives the new socket, owned, with the client's address,
/// and `Accept` and a multishot accept give owned sockets too, each a new
/// descriptor (distinct, open) whose first receive reports the reset or
/// the end. A multishot accept's stream dropped with sockets accepted but
/// not read closes each of them (their clients see the end of the
/// stream), and not the one it handed over.
#[test]
fn accepts_of_reset_connections_own_their_socket_and_name_the_peer() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    let reset_client = || {
        let c = TcpStream::connect(addr).unwrap();
        let local = c.local_addr().unwrap();
        uring_tests::reset_on_close(&c);
        drop(c);
        local
    };
    let check_reset = |fd: OwnedFd, what: &str| {
        let mut s = TcpStream::from(fd);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let r = s.read(&mut [0u8; 8]);
        assert!(
            matches!(&r, Ok(0)) || errno(&r) == Some(libc::ECONNRESET),
            "{what}: {r:?}"
        );
    };
    let client = reset_client();
    std::thread::sleep(Duration::from_millis(20));
    let (r, out) = reactor
        .run_until(reactor.op(AcceptFrom::new(&lfd)))
        .unwrap();
    let fd_no = r.unwrap();
    let (fd, peer) = out.expect("the accepted socket");
    assert_eq!(fd.as_raw_fd() as u32, fd_no);
    assert_eq!(peer, Some(client), "the peer's address");
    check_reset(fd, "accept from");

    reset_client();
    std::thread::sleep(Duration::from_millis(20));
    let (r, fd) = reactor.run_until(reactor.op(Accept::new(&lfd))).unwrap();
    let fd = fd.expect("the accepted socket");
    assert_eq!(fd.as_raw_fd() as u32, r.unwrap());
    check_reset(fd, "accept");

    // Three reset clients, then three live ones, through one stream.
    for _ in 0..3 {
        reset_client();
    }
    let live: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(20));
    let mut stream = reactor.stream(AcceptMulti::new(&lfd));
    let mut numbers = std::collections::BTreeSet::new();
    for i in 0..3 {
        let fd = reactor
            .run_until(stream.next())
            .unwrap()
            .expect("an item")
            .expect("an accepted socket");
        assert!(numbers.insert(fd.as_raw_fd()), "a number handed twice");
        check_reset(fd, &format!("multishot {i}"));
    }
    let kept = reactor
        .run_until(stream.next())
        .unwrap()
        .expect("an item")
        .expect("an accepted socket");
    let mut kept = TcpStream::from(kept);
    // The two other live connections arrive as items nobody reads.
    uring_tests::run_for(&reactor, 30);
    drop(stream);
    uring_tests::run_for(&reactor, 10);
    assert_eq!(reactor.in_flight(), 0);
    let kept_peer = kept.peer_addr().unwrap();
    let mut ended = 0;
    for mut c in live {
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let r = c.read(&mut [0u8; 8]);
        if c.local_addr().unwrap() == kept_peer {
            assert!(
                matches!(r.as_ref().map_err(|e| e.kind()), Err(ErrorKind::WouldBlock)),
                "the socket handed over was closed: {r:?}"
            );
            c.write_all(b"still").unwrap();
            let mut got = [0u8; 5];
            kept.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"still");
        } else {
            assert_eq!(r.unwrap(), 0, "an unread accepted socket was left open");
            ended += 1;
        }
    }
    assert_eq!(ended, 2);
}

/// Opens of a FIFO, whose answer depends on who else has it open: for
/// writing without a reader and without waiting, `ENXIO` and no
/// descriptor; for reading without waiting, a descriptor at once, owned
/// (the FIFO has a reader until it is dropped). An open that blocks in an
/// io-wq worker (`O_CREAT` sends it there, `io_openat_force_async`) and
/// that nobody awaits any more when its writer comes, detached or dropped
/// after it completed but before it was polled again, still has its
/// descriptor owned and closed by `complete` (`cell.rs`, `discard`): the
/// FIFO is left without a reader, and the writer's next write fails with
/// `EPIPE`.
#[test]
fn opens_of_a_fifo_own_what_the_kernel_opened_even_when_nobody_waits() {
    let _watch = watchdog();
    let Some((_dir, path)) = fifo() else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let cpath = uring_tests::cpath(&path);
    let (r, fd) = reactor
        .run_until(reactor.op(OpenAt::new(
            cpath.clone(),
            libc::O_WRONLY | libc::O_NONBLOCK,
            0,
        )))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::ENXIO));
    assert!(fd.is_none());
    let (r, fd) = reactor
        .run_until(reactor.op(OpenAt::new(
            cpath.clone(),
            libc::O_RDONLY | libc::O_NONBLOCK,
            0,
        )))
        .unwrap();
    let fd = fd.expect("a reader");
    assert_eq!(fd.as_raw_fd() as u32, r.unwrap());
    assert!(fifo_has_reader(&path));
    drop(fd);
    assert!(!fifo_has_reader(&path));

    let blocked = || OpenAt::new(cpath.clone(), libc::O_RDONLY | libc::O_CREAT, 0o600);
    for how in ["detached", "dropped once ready"] {
        let mut future = reactor.op(blocked());
        assert!(uring_tests::poll_once(&mut future).is_pending());
        uring_tests::run_for(&reactor, 30);
        assert_eq!(reactor.in_flight(), 1, "{how}: the open did not block");
        let future = if how == "detached" {
            future.detach();
            None
        } else {
            Some(future)
        };
        let w = writer(&path);
        let done = uring_tests::net::drive(&reactor, Duration::from_secs(10), || {
            (reactor.in_flight() == 0).then_some(())
        });
        assert!(done.is_some(), "{how}: the open never ended");
        let mut w = w.join().unwrap();
        if let Some(future) = future {
            // Completed, never polled again: its descriptor is in the slot.
            assert!(fifo_has_reader(&path), "{how}: closed before the drop");
            drop(future);
        }
        assert!(!fifo_has_reader(&path), "{how}: the reader was left open");
        let e = w.write(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "{how}");
    }
}

/// `Statx` lends a boxed `struct statx` the kernel fills whole (256 bytes,
/// `libc::statx`'s size) only on success, and `complete` gives it back
/// either way: of a file unlinked while open, the status through its
/// descriptor (no links left, its size); of a path removed, `ENOENT` and
/// the box as it was lent (zeros); of a path another thread replaces and
/// removes over and over, 300 results or more, each either a whole status of one
/// of the two files that take the name (7 or 13 bytes, an inode, the
/// fields asked for) or `ENOENT` and zeros, never a mix.
#[test]
fn statx_of_files_removed_meanwhile_gives_a_whole_status_or_nothing() {
    let _watch = watchdog();
    assert_eq!(std::mem::size_of::<libc::statx>(), 256);
    let reactor = Reactor::new().unwrap();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("f");
    std::fs::write(&path, b"twelve bytes").unwrap();
    let fd = SharedFd::new(std::fs::File::open(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    let (r, stx) = reactor.run_until(reactor.op(Statx::of(&fd))).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!((stx.stx_nlink, stx.stx_size), (0, 12));
    assert_ne!(stx.stx_ino, 0);

    let (r, stx) = reactor
        .run_until(reactor.op(Statx::new(uring_tests::cpath(&path))))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::ENOENT));
    assert_eq!((stx.stx_mask, stx.stx_size, stx.stx_ino), (0, 0, 0));

    let name = dir.path().join("t");
    let stop = Arc::new(AtomicBool::new(false));
    let began = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        let started = Arc::clone(&began);
        let dir = dir.path().to_owned();
        let name = name.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for (tmp, bytes) in [("a", &b"seven b"[..]), ("b", &b"thirteen byte"[..])] {
                    let tmp = dir.join(tmp);
                    std::fs::write(&tmp, bytes).unwrap();
                    std::fs::rename(&tmp, &name).unwrap();
                }
                std::fs::remove_file(&name).unwrap();
                started.store(true, Ordering::Relaxed);
            }
        })
    };
    while !began.load(Ordering::Relaxed) {
        std::thread::yield_now();
    }
    let (mut found, mut missing) = (0, 0);
    // At least 300, and on until the name was seen once: a churning thread
    // that a loaded machine leaves off its CPU may keep the name away for
    // a whole run of 300 (bounded by 10 s).
    let started = std::time::Instant::now();
    for i in 0.. {
        if i >= 300 && (found > 0 || started.elapsed() > Duration::from_secs(10)) {
            break;
        }
        let (r, stx) = reactor
            .run_until(reactor.op(Statx::new(uring_tests::cpath(&name))))
            .unwrap();
        match r {
            Ok(0) => {
                found += 1;
                assert!(
                    stx.stx_size == 7 || stx.stx_size == 13,
                    "statx {i}: size {}",
                    stx.stx_size
                );
                assert_ne!(stx.stx_ino, 0, "statx {i}");
                assert!(stx.stx_nlink <= 1, "statx {i}");
                assert_eq!(
                    stx.stx_mask & libc::STATX_BASIC_STATS,
                    libc::STATX_BASIC_STATS,
                    "statx {i}"
                );
                assert_eq!(u32::from(stx.stx_mode) & libc::S_IFMT, libc::S_IFREG);
            }
            Err(e) => {
                missing += 1;
                assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "statx {i}");
                assert_eq!((stx.stx_mask, stx.stx_size, stx.stx_ino), (0, 0, 0));
            }
            Ok(n) => panic!("statx {i} returned {n}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    assert!(found > 0, "the name was never there ({missing} missing)");
}

/// `RecvWithFds::sqe` makes room for `max_fds` descriptors besides the
/// records the socket's options add (`option_records_words`), as its
/// documentation promises. On a Unix datagram socket, `SO_TIMESTAMP` and
/// `SO_TIMESTAMPNS` add a record (they set
/// `SOCK_RCVTSTAMP`, which `__unix_dgram_recvmsg` checks; `SO_TIMESTAMPING`
/// alone does not, and is tried as the case that keeps its descriptor):
/// the timestamp is put (`__sock_recv_timestamp`) before `scm_recv_unix`
/// detaches the descriptors; without room for it, `put_cmsg` would cut it
/// to fill the room, and `scm_detach_fds`, finding none left, would close
/// every descriptor passed and flag `MSG_CTRUNC`, which the op's output
/// does not carry. The write end of a pipe sent with `SendWithFds`,
/// received with room for two descriptors, arrives.
#[test]
fn descriptors_received_on_a_timestamping_socket_keep_the_room_made_for_them() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let stamping = (libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE) as i32;
    let mut lost = Vec::new();
    for (option, value, name) in [
        (libc::SO_TIMESTAMP, 1, "SO_TIMESTAMP"),
        (libc::SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS"),
        (libc::SO_TIMESTAMPING, stamping, "SO_TIMESTAMPING"),
    ] {
        let (a, b) = UnixDatagram::pair().unwrap();
        uring_tests::set_int_option(&b, libc::SOL_SOCKET, option, value).unwrap();
        let (a, b) = (
            SharedFd::new(OwnedFd::from(a)),
            SharedFd::new(OwnedFd::from(b)),
        );
        let (rd, wr) = uring_tests::pipe();
        let (r, (_, back)) = reactor
            .run_until(reactor.op(SendWithFds::new(&a, b"fds".to_vec(), vec![wr])))
            .unwrap();
        assert_eq!(r.unwrap(), 3, "{name}");
        drop(back);
        let (r, (buf, fds)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), 2)))
            .unwrap();
        assert_eq!(r.unwrap(), 3, "{name}");
        assert_eq!(buf, b"fds");
        if fds.len() != 1 {
            // No write end is open anywhere: the kernel closed it.
            let mut rd = std::fs::File::from(rd);
            assert_eq!(rd.read(&mut [0u8; 1]).unwrap(), 0, "{name}: leaked");
            lost.push(name);
        }
    }
    assert!(
        lost.is_empty(),
        "the descriptor passed was closed by the kernel for want of room on {lost:?}"
    );
}

/// The same two descriptors, received with the same room, on a socket
/// without a timestamping option, and on one with `SO_PASSCRED`, whose
/// record the op does make room for: both arrive, owned and open, and
/// name the pipe that was passed (a byte written through the one arrives
/// through the other).
#[test]
fn descriptors_received_with_the_records_the_op_makes_room_for_all_arrive() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    for passcred in [false, true] {
        let (a, b) = UnixDatagram::pair().unwrap();
        if passcred {
            uring_tests::set_int_option(&b, libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
        }
        let (a, b) = (
            SharedFd::new(OwnedFd::from(a)),
            SharedFd::new(OwnedFd::from(b)),
        );
        let (p0, p1) = uring_tests::pipe();
        let (r, _) = reactor
            .run_until(reactor.op(SendWithFds::new(&a, b"fds".to_vec(), vec![p0, p1])))
            .unwrap();
        assert_eq!(r.unwrap(), 3);
        let (r, (buf, mut fds)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), 2)))
            .unwrap();
        assert_eq!((r.unwrap(), &buf[..]), (3, &b"fds"[..]));
        assert_eq!(fds.len(), 2, "SO_PASSCRED {passcred}");
        let w = fds.pop().unwrap();
        let rd = fds.pop().unwrap();
        std::fs::File::from(w).write_all(b"p").unwrap();
        let mut got = [0u8; 1];
        std::fs::File::from(rd).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"p", "SO_PASSCRED {passcred}");
    }
}

/// Ops whose memory is the op value itself (`AcceptFrom`'s address
/// buffer, `RecvFrom`'s header, iovec and address) dropped before, during
/// and after their completion, many at once: each is cancelled or
/// completes, its value stays in its slot until then (the reactor's count
/// of ops in flight reaches zero only once every one has ended), and the
/// data that reached one no one awaits is gone with it, not handed to a
/// later receive. Twenty receives and twenty accepts in flight; ten
/// datagrams and ten connections complete half of them; all forty futures
/// are dropped, ten of each kind after their completion and ten before:
/// the count reaches zero, every accepted socket is closed (its client
/// sees the end of the stream), and the next ten receives get the next ten
/// datagrams, in order, none of the first ten.
#[test]
fn ops_holding_their_own_memory_dropped_around_their_completion_end_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = SharedFd::new(OwnedFd::from(rx));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let laddr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));

    // Twenty receives and twenty accepts, polled once (queued, submitted).
    let mut recvs: Vec<_> = (0..20)
        .map(|_| reactor.op(RecvFrom::new(&rx, canaried(0, 8))))
        .collect();
    let mut accepts: Vec<_> = (0..20).map(|_| reactor.op(AcceptFrom::new(&lfd))).collect();
    for f in &mut recvs {
        assert!(uring_tests::poll_once(f).is_pending());
    }
    for f in &mut accepts {
        assert!(uring_tests::poll_once(f).is_pending());
    }
    reactor.submit().unwrap();
    assert_eq!(reactor.in_flight(), 40);
    // Half of them complete (ten datagrams, ten connections), then all
    // are dropped: ten after their completion, ten before.
    for i in 0..10u8 {
        tx.send_to(&[i; 3], to).unwrap();
    }
    let clients: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(laddr).unwrap())
        .collect();
    let settled = uring_tests::net::drive(&reactor, Duration::from_secs(10), || {
        (reactor.in_flight() == 20).then_some(())
    });
    assert!(settled.is_some(), "in flight: {}", reactor.in_flight());
    drop(recvs);
    drop(accepts);
    let ended = uring_tests::net::drive(&reactor, Duration::from_secs(10), || {
        (reactor.in_flight() == 0).then_some(())
    });
    assert!(ended.is_some(), "in flight: {}", reactor.in_flight());
    // Every accepted socket was closed with its dropped op.
    for mut c in clients {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(
            c.read(&mut [0u8; 4]).unwrap(),
            0,
            "an accepted socket left open"
        );
    }
    // Datagrams sent now are the next receives' own.
    for i in 10..20u8 {
        tx.send_to(&[i; 3], to).unwrap();
        let (r, (buf, from)) = reactor
            .run_until(reactor.op(RecvFrom::new(&rx, canaried(0, 8))))
            .unwrap();
        assert_eq!(r.unwrap(), 3);
        assert_eq!(
            &buf[..],
            &[i; 3],
            "a datagram taken by a dropped receive came back"
        );
        assert_eq!(from, Some(tx.local_addr().unwrap()));
    }
}
