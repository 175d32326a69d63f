//! Attacks on the lengths and counts of what the kernel writes back: every
//! op whose output lands in memory the program lent, with a length or a
//! count taken from the op's fields or from the lent memory itself, driven
//! from safe code to make the kernel write past what was lent.
//!
//! The memory lent is laid out so that a write past it shows: canary bytes
//! right after each lent region (and between the parts of a vectored
//! buffer), checked after the completion and again after the ring or the
//! reactor is gone; a `PROT_NONE` page right after a slice (an overrun is
//! then `EFAULT` from the kernel, a short count, never a write into the
//! program's memory); and, for provided buffers, a buffer of the same ring
//! claimed and held by the program right after the one the kernel picks.
//!
//! The paths tried, through a `Ring::scope` with borrowed memory and
//! through `uring::reactor` with owned memory: a socket option whose
//! length the kernel counts in 8-byte blocks; every `SOL_SOCKET` option
//! read into values of 0 to 16 bytes; reads into slices that end at a
//! guard page, of zero length, longer than `u32::MAX`; vectored reads with
//! empty iovecs and more than `UIO_MAXIOV` of them; fixed-buffer reads
//! whose slice runs across the end of the registered buffer, and vectored
//! ones with one such iovec; receives flagged multishot or bundle into a
//! borrowed buffer; a `MsgHdrMut` reused after the kernel rewrote its
//! lengths, with a long sender address, short iovecs and a control room
//! too small for the record; multishot `recvmsg` layouts whose sizes
//! overflow; selected reads and receives with caps past the buffer (of
//! `usize::MAX`, of `2^32 + 8`, of 0), multishot reads, bundles and
//! multishot `recvmsg` next to a buffer the program holds; owned buffers of
//! `push_owned` with spare capacity; `Statx` masks with reserved bits; the
//! reactor's reads into boxed slices, vectors and `RingBuf`s, and its
//! vectored reads.
//!
//! Every attack is safe code. `unsafe` appears only to set up (map guard
//! pages, register buffers, attach a socket filter, each a sound use of its
//! own) or to inspect, each with a `// SAFETY:` comment. Each test asserts
//! what the kernel did: results, errno, the bytes written, the canaries.

use std::io::{IoSliceMut, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixStream};

use uring::ops::{
    Accept, EpollWait, GetSockOpt, Read, ReadFixed, ReadMultishot, ReadV, ReadVFixed, ReadVSelect,
    Recv, RecvMsg, RecvMsgMulti, Statx,
};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    AcceptFlags, AsSocket, Buf, BufRing, BufferGroup, MsgHdrMut, MsgLayout, RecvFlags, RecvMsgOut,
    Ring, Scope, SockAddrBuf, SockOpt,
};
use uring_tests::next_scope_cqe as next;
use uring_tests::{Guarded, complete, pattern, plain_buf_ring, require_op, skip};

const CANARY: u8 = 0xC5;

/// `UIO_MAXIOV`: the most iovecs one vectored op takes.
const UIO_MAXIOV: usize = 1024;

/// Whether every byte of `bytes` is the canary.
fn intact(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == CANARY)
}

/// `len` bytes (a multiple of the page size) of canary bytes followed by a
/// `PROT_NONE` page, so that a write past the last byte faults; `None` if
/// the mapping cannot be made. With `lazy`, the pages are neither reserved
/// nor filled (for mappings of gigabytes).
fn guarded(len: usize, lazy: bool) -> Option<Guarded> {
    assert_eq!(len % uring_tests::GUARD_PAGE, 0);
    let mut mem = Guarded::map(len, lazy)?;
    if !lazy {
        mem.bytes().fill(CANARY);
    }
    Some(mem)
}

/// Splits `mem` into the regions `spans` names (`(start, len)`, in order,
/// not overlapping): the lent parts, the rest left as canaries.
fn carve<'m>(mut mem: &'m mut [u8], spans: &[(usize, usize)]) -> Vec<&'m mut [u8]> {
    let mut at = 0;
    let mut parts = Vec::new();
    for &(start, len) in spans {
        let (_, rest) = mem.split_at_mut(start - at);
        let (part, rest) = rest.split_at_mut(len);
        parts.push(part);
        mem = rest;
        at = start + len;
    }
    parts
}

// ---------------------------------------------------------------------
// Socket options
// ---------------------------------------------------------------------

/// A classic BPF program of `n` instructions that accepts every packet:
/// `n - 1` loads of the packet length, then `ret #-1`.
fn accept_all_filter(n: usize) -> Vec<libc::sock_filter> {
    let load_len = libc::sock_filter {
        code: (libc::BPF_LD | libc::BPF_W | libc::BPF_LEN) as u16,
        jt: 0,
        jf: 0,
        k: 0,
    };
    let mut prog = vec![load_len; n];
    prog[n - 1] = libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: u32::MAX,
    };
    prog
}

/// Attaches `prog` to `sock` with `SO_ATTACH_FILTER`, as a program (or the
/// process that gave it the socket) may well have done.
fn attach_filter(sock: &impl AsRawFd, prog: &mut [libc::sock_filter]) {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: a sound use of its own: the program and its header are valid
    // for the call, and the kernel copies the program before it returns.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const fprog).cast(),
            std::mem::size_of_val(&fprog) as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "SO_ATTACH_FILTER: {}",
        std::io::Error::last_os_error()
    );
}

/// `GetSockOpt` lends the kernel `optval.len()` bytes and passes that
/// length as `optlen`. For `SO_GET_FILTER` (= `SO_ATTACH_FILTER`, 26) the
/// kernel reads `optlen` as a count of `struct sock_filter` blocks, 8 bytes
/// each (`sk_get_filter`), and copies the whole program when the count is
/// at least its length: on a socket carrying a 4-instruction filter
/// (attached by sound code, or by whoever handed the program the socket),
/// a 4-byte value would take 32 bytes. Defended: `GetSockOpt` names its
/// option by a `SockOpt`, whose safe constants leave `SO_GET_FILTER` out
/// (`tests/ui/fail/getsockopt_raw_option.rs`). Every option they name,
/// read into values of 0 to 16 bytes on a TCP, a UDP and a Unix socket,
/// each with a filter attached, is written within its value (the canaries
/// after it stay), and reports no more bytes than were lent.
#[test]
fn every_option_safe_code_names_is_read_within_the_value_lent() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    if !require_op::<GetSockOpt<'static>>(&ring) {
        return;
    }
    assert!(
        !SockOpt::PLAIN
            .iter()
            .any(|o| (o.level(), o.name()) == (libc::SOL_SOCKET, libc::SO_GET_FILTER)),
        "SO_GET_FILTER is among the safe options"
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_tcp_peer, _) = listener.accept().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (unix, _unix_peer) = UnixStream::pair().unwrap();
    let mut prog = accept_all_filter(4);
    attach_filter(&tcp, &mut prog);
    attach_filter(&udp, &mut prog);
    attach_filter(&unix, &mut prog);
    let mut read = 0;
    read += read_every_safe_option(&mut ring, "tcp", &tcp);
    read += read_every_safe_option(&mut ring, "udp", &udp);
    read += read_every_safe_option(&mut ring, "unix", &unix);
    assert!(read > 100, "only {read} options were read at all");
}

/// Reads every option of `SockOpt::PLAIN` of `sock` into values of several
/// lengths, each with canary bytes after it, in one scope per option;
/// checks every value's canaries and result, and returns how many reads
/// succeeded.
fn read_every_safe_option<S: AsSocket>(ring: &mut Ring, kind: &str, sock: &S) -> usize {
    const LENS: [usize; 10] = [0, 1, 2, 3, 4, 5, 7, 8, 12, 16];
    const ROOM: usize = 48;
    let mut read = 0;
    for &option in SockOpt::PLAIN {
        let mut mem = [CANARY; LENS.len() * ROOM];
        let results = ring.scope(|s| {
            for (i, (chunk, &len)) in mem.chunks_mut(ROOM).zip(&LENS).enumerate() {
                s.push(GetSockOpt::new(sock, option, &mut chunk[..len]).user_data(i as u64))
                    .unwrap();
            }
            s.submit_and_wait(LENS.len() as u32).unwrap();
            let mut results = vec![0; LENS.len()];
            for cqe in s.completions() {
                results[cqe.user_data() as usize] = cqe.res();
            }
            results
        });
        for (i, (chunk, &len)) in mem.chunks(ROOM).zip(&LENS).enumerate() {
            let res = results[i];
            assert!(
                intact(&chunk[len..]),
                "{kind} {option:?} into {len} bytes ({res}) wrote past them: {chunk:?}"
            );
            assert!(
                res < 0 || res as usize <= len,
                "{kind} {option:?} into {len} bytes reports {res}"
            );
            if res >= 0 {
                read += 1;
            }
        }
    }
    read
}

// ---------------------------------------------------------------------
// Reads and receives into borrowed slices
// ---------------------------------------------------------------------

/// Reads and receives into slices that end right at a guard page, of 0,
/// 1, 7 and 4096 bytes, from sources holding more: each completes with the
/// slice's length exactly (a write past it would have faulted, and
/// completed short or with `EFAULT`), the bytes before the slice stay, and
/// the next op reads on from where the last stopped.
#[test]
fn reads_into_slices_that_end_at_a_guard_page_fill_exactly_the_slice() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(mut mem) = guarded(8192, false) else {
        skip("cannot map a guard page");
        return;
    };
    let data = pattern(3 * 8192, 11);
    let file = uring_tests::file_of(&data);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(&data[..8192]).unwrap();
    let (mut at_file, mut at_stream) = (0usize, 0usize);
    for len in [0usize, 1, 7, 4096, 8192] {
        let bytes = mem.bytes();
        bytes.fill(CANARY);
        let (before, slice) = bytes.split_at_mut(8192 - len);
        let cqe = complete(
            &mut ring,
            Read::new(&file, &mut *slice).offset(at_file as u64),
        );
        assert_eq!(cqe.res(), len as i32, "read of {len} bytes: {cqe:?}");
        assert_eq!(slice, &data[at_file..at_file + len]);
        assert!(intact(before));
        at_file += len;
        if len <= 4096 {
            slice.fill(CANARY);
            let cqe = complete(&mut ring, Recv::new(&rx, &mut *slice));
            assert_eq!(cqe.res(), len as i32, "receive of {len} bytes: {cqe:?}");
            assert_eq!(slice, &data[at_stream..at_stream + len]);
            assert!(intact(before));
            at_stream += len;
        }
    }
    drop(ring);
    let mut rest = vec![0; 8192];
    tx.shutdown(std::net::Shutdown::Write).unwrap();
    let n = (&rx).read(&mut rest).unwrap();
    assert_eq!(&rest[..n], &data[at_stream..8192], "no byte went missing");
}

/// Slices of `2^31`, `u32::MAX` and `2^32 + 16` bytes (lazily mapped,
/// zero) go to the kernel as lengths clamped to `u32::MAX`, never wrapped
/// (`2^32 + 16` would be 16): a read of a 64-byte file fills 64 bytes and
/// nothing past them. A receive takes at most `INT_MAX` bytes: longer ones
/// fail with `EINVAL`, take no byte and write nothing; one just under reads
/// what is there.
#[test]
fn slices_longer_than_u32_max_are_clamped_not_wrapped() {
    let _watch = uring_tests::watchdog();
    let Some(mut mem) = guarded((1 << 32) + 4096, true) else {
        skip("cannot map 4 GiB of address space");
        return;
    };
    let data = pattern(64, 3);
    let file = uring_tests::file_of(&data);
    let mut ring = Ring::new(8).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(&data).unwrap();
    for len in [1usize << 31, u32::MAX as usize, (1 << 32) + 16] {
        let slice = &mut mem.bytes()[..len];
        slice[..64].fill(0);
        let cqe = complete(&mut ring, Read::new(&file, &mut *slice));
        assert_eq!(cqe.res(), 64, "read into {len:#x} bytes: {cqe:?}");
        assert_eq!(&slice[..64], &data[..]);
        assert!(
            slice[64..4096].iter().all(|&b| b == 0),
            "past what was read"
        );
        slice[..64].fill(CANARY);
        let cqe = complete(&mut ring, Recv::new(&rx, &mut *slice));
        assert_eq!(
            cqe.res(),
            -libc::EINVAL,
            "receive into {len:#x} bytes: {cqe:?}"
        );
        assert!(intact(&slice[..64]), "a refused receive wrote");
    }
    let slice = &mut mem.bytes()[..(1 << 31) - 4096];
    let cqe = complete(&mut ring, Recv::new(&rx, &mut *slice));
    assert_eq!(cqe.res(), 64, "{cqe:?}");
    assert_eq!(&slice[..64], &data[..]);
    assert!(slice[64..4096].iter().all(|&b| b == 0));
}

/// A vectored read fills each iovec up to its own length, in order,
/// skipping the empty ones, and nothing between them; no iovecs read
/// nothing; more than `UIO_MAXIOV` are refused (`EINVAL`) before anything
/// is written, and exactly `UIO_MAXIOV` are taken.
#[test]
fn vectored_reads_fill_each_iovec_to_its_own_length_only() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(4096, 21);
    let file = uring_tests::file_of(&data);
    let spans = [(0, 0), (4, 3), (10, 0), (12, 5), (20, 1), (22, 0)];
    let mut mem = [CANARY; 40];
    let mut parts = carve(&mut mem, &spans);
    let mut iovecs: Vec<IoSliceMut<'_>> = parts.iter_mut().map(|p| IoSliceMut::new(p)).collect();
    let cqe = complete(&mut ring, ReadV::new(&file, &mut iovecs[..]));
    assert_eq!(cqe.res(), 9, "{cqe:?}");
    drop(iovecs);
    let mut expect = [CANARY; 40];
    let mut at = 0;
    for (start, len) in spans {
        expect[start..start + len].copy_from_slice(&data[at..at + len]);
        at += len;
    }
    assert_eq!(mem, expect);

    let cqe = complete(&mut ring, ReadV::new(&file, &mut []));
    assert_eq!(cqe.res(), 0, "no iovecs: {cqe:?}");

    for (count, want) in [
        (UIO_MAXIOV + 1, -libc::EINVAL),
        (UIO_MAXIOV, UIO_MAXIOV as i32),
    ] {
        let mut mem = vec![CANARY; 2 * count];
        let mut iovecs: Vec<IoSliceMut<'_>> = mem
            .chunks_mut(2)
            .map(|pair| IoSliceMut::new(&mut pair[..1]))
            .collect();
        let cqe = complete(&mut ring, ReadV::new(&file, &mut iovecs[..]));
        assert_eq!(cqe.res(), want, "{count} iovecs: {cqe:?}");
        drop(iovecs);
        for (i, pair) in mem.chunks(2).enumerate() {
            assert_eq!(pair[1], CANARY, "{count} iovecs: the gap after iovec {i}");
            let first = if want < 0 { CANARY } else { data[i] };
            assert_eq!(pair[0], first, "{count} iovecs: iovec {i}");
        }
    }
}

/// A fixed-buffer read checks the slice against the registered buffer, a
/// page in the middle of three: the slice at its very end reads, one byte
/// more or one byte before it fails with `EFAULT` and writes nothing, an
/// empty slice at its end reads nothing; the pages around it keep their
/// canaries. A vectored fixed read with one iovec across the end fails
/// whole, the iovec inside the buffer included.
#[test]
fn fixed_reads_across_the_registered_buffer_s_edges_write_nothing() {
    let _watch = uring_tests::watchdog();
    let data = pattern(8192, 31);
    let file = uring_tests::file_of(&data);
    let mut mem = vec![CANARY; 3 * 4096];
    let mut ring = Ring::new(8).unwrap();
    let table = {
        let slices = [IoSliceMut::new(&mut mem[4096..8192])];
        // SAFETY: `mem` outlives the ring (declared before it) and is
        // touched only through the ring's ops while the ring lives.
        unsafe { ring.register_buffers(&slices) }.unwrap()
    };
    assert!(matches!(
        table.get(1),
        Err(uring::Error::InvalidArgument(_))
    ));
    let index = table.get(0).unwrap();
    for (start, len, want) in [
        (8192 - 10, 10, 10),
        (8192 - 10, 11, -libc::EFAULT),
        (4095, 2, -libc::EFAULT),
        (0, 4096, -libc::EFAULT),
        (8192, 0, 0),
        (4096, 4096, 4096),
    ] {
        let cqe = complete(
            &mut ring,
            ReadFixed::new(&file, &mut mem[start..start + len], index),
        );
        assert_eq!(cqe.res(), want, "{len} bytes at {start}: {cqe:?}");
        if want > 0 {
            assert_eq!(&mem[start..start + len], &data[..len]);
        } else {
            assert!(intact(&mem[start..start + len]));
        }
        assert!(intact(&mem[..4096]) && intact(&mem[8192..]));
        mem.fill(CANARY);
    }
    if require_op::<ReadVFixed<'static, 'static>>(&ring) {
        let (low, high) = mem.split_at_mut(8000);
        let (_, inside) = low.split_at_mut(4096);
        let mut iovecs = [
            IoSliceMut::new(&mut inside[..100]),
            IoSliceMut::new(&mut high[..300]),
        ];
        let cqe = complete(&mut ring, ReadVFixed::new(&file, &mut iovecs[..], index));
        assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
        assert!(intact(&mem), "a failed vectored fixed read wrote");
    }
    drop(ring);
    assert!(intact(&mem));
}

/// A receive into a borrowed buffer flagged multishot would have the
/// kernel write into the buffer again and again, and flagged bundle, into
/// buffers the op does not name: the kernel refuses multishot without a
/// provided-buffer group (`EINVAL`, no byte taken), and takes a bundle
/// without one as a plain receive into the buffer (4 bytes of the 10
/// waiting); nothing is written past the 4 bytes lent.
#[test]
fn a_borrowed_receive_is_never_multishot_and_a_bundle_stays_in_it() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"0123456789").unwrap();
    let mut mem = [CANARY; 16];
    for (flags, want) in [
        (RecvFlags::MULTISHOT, -libc::EINVAL),
        (RecvFlags::BUNDLE, 4),
    ] {
        let results = ring.scope(|s| {
            s.push(Recv::new(&rx, &mut mem[..4]).recv_flags(flags).user_data(1))
                .unwrap();
            let cqe = next(s);
            vec![(cqe.res(), cqe.cqe().has_more())]
        });
        assert_eq!(results, [(want, false)], "{flags:?}");
        assert!(intact(&mem[4..]), "{flags:?}");
    }
    assert_eq!(&mem[..4], b"0123", "the bundle received the first 4 bytes");
    let cqe = complete(&mut ring, Recv::new(&rx, &mut mem[..4]));
    assert_eq!((cqe.res(), &mem[..4]), (4, &b"4567"[..]), "then the next 4");
    assert!(intact(&mem[4..]));
}

/// The room after a `SockAddrBuf` that a receive writes the sender into.
#[repr(C)]
struct AddrThenCanary {
    addr: SockAddrBuf,
    canary: [u8; 64],
}

/// One `MsgHdrMut`, reused by three receives after the kernel rewrote its
/// lengths: a sender bound to the longest abstract name (110 bytes), then
/// an unbound one (the kernel sets the name length to 0), then the long one
/// again; iovecs of 2, 0 and 3 bytes with canaries between them; a control
/// room of 20 bytes, too small for the credentials record (32). Each
/// message of 10 bytes: the kernel writes 5 payload bytes across the
/// iovecs, cuts the record, writes the address into the storage only, and
/// nothing after any of them.
#[test]
fn a_reused_message_header_keeps_every_write_in_its_room() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let long_name: Vec<u8> = (0..107).map(|i| b'a' + (i % 26) as u8).collect();
    let rx_name = format!("uring-kw-rx-{}", std::process::id());
    let rx_addr = UnixAddr::from_abstract_name(rx_name.as_bytes()).unwrap();
    let rx = UnixDatagram::bind_addr(&rx_addr).unwrap();
    uring_tests::set_int_option(&rx, libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
    let long = UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(&long_name).unwrap());
    let Ok(long) = long else {
        skip("cannot bind the long abstract name");
        return;
    };
    let unbound = UnixDatagram::unbound().unwrap();
    let spans = [(0, 2), (8, 0), (16, 3)];
    let mut data = [CANARY; 32];
    let mut control = [CANARY; 64];
    let mut from = AddrThenCanary {
        addr: SockAddrBuf::new(),
        canary: [CANARY; 64],
    };
    let (room, control_after) = control.split_at_mut(20);
    let mut parts = carve(&mut data, &spans);
    let mut iovecs: Vec<IoSliceMut<'_>> = parts.iter_mut().map(|p| IoSliceMut::new(p)).collect();
    let mut msg = MsgHdrMut::new(&mut iovecs[..])
        .from(&mut from.addr)
        .control(room);
    let mut seen = Vec::new();
    for (round, sender) in [&long, &unbound, &long].into_iter().enumerate() {
        let payload = pattern(10, round as u8);
        sender.send_to_addr(&payload, &rx_addr).unwrap();
        let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut msg));
        assert_eq!(cqe.res(), 5, "round {round}: {cqe:?}");
        assert!(
            intact(control_after),
            "round {round}: past the control room"
        );
        assert!(intact(&from.canary), "round {round}: past the address");
        assert!(msg.control_len() <= 20, "round {round}: {msg:?}");
        let want = libc::MSG_TRUNC | libc::MSG_CTRUNC;
        assert_eq!(msg.flags() & want, want, "round {round}: {msg:?}");
        seen.push(msg.name_len());
    }
    // The kernel reports each sender's real length, after writing at most
    // what the header said there was room for.
    assert_eq!(seen, [110, 0, 110]);
    let mut expect = [CANARY; 32];
    let last = pattern(10, 2);
    expect[..2].copy_from_slice(&last[..2]);
    expect[16..19].copy_from_slice(&last[2..5]);
    assert_eq!(data, expect);
    drop(ring);
    assert!(intact(&from.canary));
}

/// A multishot accept writes each peer's address into one `SockAddrBuf`,
/// whose length word the kernel rewrites with each peer's length and reads
/// back as the room for the next: a length set past the storage first
/// (`set_len(u32::MAX)`, clamped) is reset when the op is built, and peers
/// of the longest abstract name (110 bytes), unbound (2), and the longest
/// again never make the kernel write past the storage.
#[test]
fn a_multishot_accept_writes_every_peer_address_inside_its_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let name = format!("uring-kw-listen-{}", std::process::id());
    let addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let long_name: Vec<u8> = (0..107).map(|i| b'A' + (i % 26) as u8).collect();
    let mut from = AddrThenCanary {
        addr: SockAddrBuf::new(),
        canary: [CANARY; 64],
    };
    from.addr.set_len(u32::MAX);
    // Clients: one bound to the longest abstract name, one unbound, then
    // one bound to another long name.
    let mut clients = Vec::new();
    for round in 0..3u8 {
        let client = if round == 1 {
            UnixStream::connect_addr(&addr).unwrap()
        } else {
            let mut own = long_name.clone();
            own[0] = b'0' + round;
            let own = UnixAddr::from_abstract_name(&own).unwrap();
            bound_stream(&own, &addr)
        };
        clients.push(client);
    }
    let results = ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .peer(Some(&mut from.addr))
                .accept_flags(libc::SOCK_CLOEXEC)
                .iou_flags(AcceptFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        let mut results = Vec::new();
        while results.len() < 3 {
            let cqe = next(s);
            assert!(cqe.cqe().has_more(), "{:?}", cqe.cqe());
            assert!(cqe.res() >= 0, "{:?}", cqe.cqe());
            // SAFETY: the kernel just made this descriptor for the accept,
            // owned by no one else.
            drop(unsafe { OwnedFd::from_raw_fd(cqe.res()) });
            results.push(cqe.res());
        }
        results
    });
    assert_eq!(results.len(), 3);
    drop(ring);
    assert!(intact(&from.canary), "past the address storage");
}

/// A Unix stream socket bound to `own`, connected to `to`.
fn bound_stream(own: &UnixAddr, to: &UnixAddr) -> UnixStream {
    let fd = uring_tests::socket(libc::AF_UNIX, libc::SOCK_STREAM).unwrap();
    for (call, addr) in [("bind", own), ("connect", to)] {
        let addr = uring::SockAddr::from(addr);
        // SAFETY: the address is `len` bytes in the kernel's layout, alive
        // for the call; the descriptor is open.
        let rc = unsafe {
            let ptr = addr.as_ptr().cast::<libc::sockaddr>();
            if call == "bind" {
                libc::bind(fd.as_raw_fd(), ptr, addr.len())
            } else {
                libc::connect(fd.as_raw_fd(), ptr, addr.len())
            }
        };
        assert_eq!(rc, 0, "{call}: {}", std::io::Error::last_os_error());
    }
    UnixStream::from(fd)
}

/// Outputs of zero length: an `EpollWait` with room for no event is
/// refused (`EINVAL`); a `RecvMsg` with no iovec, no control room and an
/// address buffer takes the datagram (flagged `MSG_TRUNC`), writes only
/// the address, and nothing after it.
#[test]
fn empty_outputs_are_refused_or_write_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if require_op::<EpollWait<'static>>(&ring) {
        let (_tx, rx) = UnixStream::pair().unwrap();
        let epoll = uring_tests::epoll_watching(std::os::fd::AsFd::as_fd(&rx), 5);
        let cqe = complete(&mut ring, EpollWait::new(&epoll, &mut []));
        assert_eq!(cqe.res(), -libc::EINVAL, "{cqe:?}");
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"payload", rx.local_addr().unwrap()).unwrap();
    let mut from = AddrThenCanary {
        addr: SockAddrBuf::new(),
        canary: [CANARY; 64],
    };
    let mut control = [CANARY; 16];
    let mut msg = MsgHdrMut::new(&mut [])
        .from(&mut from.addr)
        .control(&mut control[..0]);
    let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut msg));
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_ne!(msg.flags() & libc::MSG_TRUNC, 0, "{msg:?}");
    assert_eq!(msg.control_len(), 0);
    assert_eq!(msg.name_len(), 16);
    drop(ring);
    assert!(intact(&control));
    assert!(intact(&from.canary));
    assert_eq!(from.addr.socket_addr(), Some(tx.local_addr().unwrap()));
}

// ---------------------------------------------------------------------
// Provided buffers, next to a buffer the program holds
// ---------------------------------------------------------------------

/// Has the kernel fill buffers 0 and 1 of `pool` (of two or more buffers)
/// from `file`, keeps buffer 1, whose every byte is then known, and gives
/// buffer 0 back: the kernel holds buffer 0 (and any others), and the
/// program the buffer right after it.
fn hold_second<'s, 'p>(
    s: &mut Scope<'s, '_>,
    pool: &'p BufRing,
    file: &'s std::fs::File,
) -> Buf<'p> {
    let len = pool.buf_len();
    let mut held = Vec::new();
    for i in 0..2u64 {
        s.push(
            Read::new(file, pool.select())
                .offset(i * u64::from(len))
                .user_data(100 + i),
        )
        .unwrap();
        let mut cqe = next(s);
        assert_eq!(cqe.res(), len as i32, "{:?}", cqe.cqe());
        held.push(pool.claim(&mut cqe).unwrap());
    }
    let second = held.pop().unwrap();
    assert_eq!((held[0].bid(), second.bid()), (0, 1));
    drop(held);
    second
}

/// Selected reads and receives with caps past the picked buffer: an iovec
/// length of `usize::MAX`, of `2^32 + 8` (which the kernel's 32-bit length
/// cuts to 8), of `2^32` (cut to 0: the whole buffer), selections of
/// `u32::MAX` bytes (a read; a receive, which the kernel refuses past
/// `INT_MAX`) and of `INT_MAX`, from sources holding more than a buffer.
/// Each fills at most buffer 0, and the buffer after it, which the program
/// holds, keeps every byte.
#[test]
fn selected_reads_with_caps_past_the_buffer_stay_in_the_picked_one() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 71, 2, 64) else {
        return;
    };
    let data = pattern(4096, 41);
    let file = uring_tests::file_of(&data);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(&data[..1024]).unwrap();
    let caps = [
        (usize::MAX, 64),
        ((1 << 32) + 8, 8),
        (1 << 32, 64),
        (0, 64),
        (65, 64),
    ];
    let iovs: Vec<libc::iovec> = caps
        .iter()
        .map(|&(cap, _)| libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: cap,
        })
        .collect();
    ring.scope(|s| {
        let held = hold_second(s, &pool, &file);
        let known = data[64..128].to_vec();
        for (i, (iov, &(cap, want))) in iovs.iter().zip(&caps).enumerate() {
            s.push(
                ReadVSelect::new(&file, iov, pool.group())
                    .offset(256)
                    .user_data(i as u64),
            )
            .unwrap();
            let mut cqe = next(s);
            assert_eq!(cqe.res(), want, "cap {cap:#x}: {:?}", cqe.cqe());
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((buf.bid(), &buf[..]), (0, &data[256..256 + want as usize]));
            assert_eq!(
                &held[..],
                &known[..],
                "cap {cap:#x}: the held buffer changed"
            );
        }
        let selection = pool.group().select(u32::MAX);
        s.push(Read::new(&file, selection).offset(512).user_data(10))
            .unwrap();
        let mut cqe = next(s);
        assert_eq!(cqe.res(), 64, "{:?}", cqe.cqe());
        drop(pool.claim(&mut cqe).unwrap());
        // A receive takes at most INT_MAX bytes: refused, with no buffer
        // taken and no byte.
        s.push(Recv::new(&rx, selection).user_data(11)).unwrap();
        let cqe = next(s);
        assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::EINVAL, None));
        s.push(Recv::new(&rx, pool.group().select(i32::MAX as u32)).user_data(12))
            .unwrap();
        let mut cqe = next(s);
        assert_eq!(cqe.res(), 64, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], &data[..64]);
        drop(buf);
        assert_eq!(&held[..], &known[..], "the held buffer changed");
    });
    drop(ring);
}

/// A multishot read from a pipe holding 200 bytes, with one buffer of 64 in
/// the ring: it fills that buffer, then ends with `ENOBUFS`; the buffer
/// after it, held by the program, keeps every byte, and the pipe gives the
/// rest in order.
#[test]
fn a_multishot_read_stays_in_the_buffers_it_picks() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<ReadMultishot>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 72, 2, 64) else {
        return;
    };
    let data = pattern(200, 51);
    let file = uring_tests::file_of(&pattern(128, 52));
    let (rd, wr) = uring_tests::pipe();
    let mut wr = std::fs::File::from(wr);
    wr.write_all(&data).unwrap();
    let results = ring.scope(|s| {
        let held = hold_second(s, &pool, &file);
        let known = held.to_vec();
        s.push(ReadMultishot::new(&rd, pool.group()).user_data(1))
            .unwrap();
        let mut results = Vec::new();
        loop {
            let mut cqe = next(s);
            let more = cqe.cqe().has_more();
            results.push(cqe.res());
            if cqe.res() > 0 {
                let buf = pool.claim(&mut cqe).unwrap();
                assert_eq!(&buf[..], &data[..64]);
                // Held, so that the read cannot take it again.
                std::mem::forget(buf);
            }
            if !more {
                break;
            }
        }
        assert_eq!(&held[..], &known[..], "the held buffer changed");
        results
    });
    assert_eq!(results, [64, -libc::ENOBUFS]);
    drop(ring);
    let mut rest = Vec::new();
    drop(wr);
    std::fs::File::from(rd).read_to_end(&mut rest).unwrap();
    assert_eq!(rest, &data[64..]);
}

/// A receive bundle of everything waiting (more than the ring holds) takes
/// only the buffers in the ring, in ring order (3, 0 and 1 of four, after
/// buffers 0 and 1 went back behind 3), never buffer 2, which the program
/// holds between them: it keeps every byte.
#[test]
fn a_bundle_takes_no_buffer_the_program_holds() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 73, 4, 16) else {
        return;
    };
    let file = uring_tests::file_of(&pattern(64, 61));
    let sent = pattern(100, 62);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        // Buffers 0, 1 and 2 filled and claimed; 0 and 1 back in the ring,
        // after 3.
        let mut held = Vec::new();
        for i in 0..3u64 {
            s.push(Read::new(&file, pool.select()).offset(16 * i).user_data(i))
                .unwrap();
            let mut cqe = next(s);
            held.push(pool.claim(&mut cqe).unwrap());
        }
        let two = held.pop().unwrap();
        assert_eq!(two.bid(), 2);
        drop(held);
        let known = two.to_vec();
        tx.write_all(&sent).unwrap();
        s.push(
            Recv::new(&rx, pool.group().select(0))
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(9),
        )
        .unwrap();
        let mut cqe = next(s);
        assert_eq!(cqe.res(), 48, "{:?}", cqe.cqe());
        let bufs = pool.claim_bundle(&mut cqe).unwrap();
        let bids: Vec<u16> = bufs.iter().map(|b| b.bid()).collect();
        assert_eq!(bids, [3, 0, 1]);
        let got: Vec<u8> = bufs.iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(got, &sent[..48]);
        assert_eq!(&two[..], &known[..], "the held buffer changed");
    });
}

/// Multishot `recvmsg` layouts whose sizes overflow the kernel's `int`
/// header length (a name room of `u32::MAX` or `2^31`, a control room of
/// `usize::MAX`, `2^32` or `2^31 - 1`) are refused with `EOVERFLOW`, before
/// any buffer is taken; a fitting layout with a datagram longer than the
/// buffer writes the header, the address and the payload it cuts into the
/// picked buffer only, and the one after it, held, keeps every byte.
#[test]
fn multishot_recvmsg_layouts_never_reach_past_the_picked_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvMsgMulti<'static>>(&ring) {
        return;
    }
    let Some(pool) = plain_buf_ring(&mut ring, 74, 2, 64) else {
        return;
    };
    let file = uring_tests::file_of(&pattern(128, 71));
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagram = pattern(300, 72);
    tx.send_to(&datagram, rx.local_addr().unwrap()).unwrap();
    let layouts = [
        (u32::MAX, 0),
        (1 << 31, 0),
        (0, usize::MAX),
        (0, 1 << 32),
        (0, (1 << 31) - 1),
        ((1 << 31) - 1, (1 << 31) - 1),
    ];
    let bad: Vec<MsgLayout> = layouts
        .iter()
        .map(|&(name, control)| MsgLayout::new(name, control))
        .collect();
    let layout = MsgLayout::new(16, 0);
    ring.scope(|s| {
        let held = hold_second(s, &pool, &file);
        let known = held.to_vec();
        for (i, (bad, &(name, control))) in bad.iter().zip(&layouts).enumerate() {
            s.push(RecvMsgMulti::new(&rx, bad, pool.group()).user_data(i as u64))
                .unwrap();
            let cqe = next(s);
            assert_eq!(
                (cqe.res(), cqe.cqe().has_more(), cqe.buffer_id()),
                (-libc::EOVERFLOW, false, None),
                "layout {name:#x}, {control:#x}"
            );
        }
        s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(9))
            .unwrap();
        let mut results = Vec::new();
        loop {
            let mut cqe = next(s);
            let more = cqe.cqe().has_more();
            results.push(cqe.res());
            if cqe.res() > 0 {
                let buf = pool.claim(&mut cqe).unwrap();
                assert_eq!(buf.bid(), 0);
                let out = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                assert_eq!(out.payload(), &datagram[..32]);
                // Cut: without MSG_TRUNC among the op's flags, the length
                // placed, and the flag.
                assert_eq!(out.payload_len(), 32);
                assert_ne!(out.flags() & libc::MSG_TRUNC as u32, 0);
                assert_eq!(out.socket_addr(), Some(tx.local_addr().unwrap()));
                std::mem::forget(buf);
            }
            if !more {
                break;
            }
        }
        assert_eq!(results, [64, -libc::ENOBUFS]);
        assert_eq!(&held[..], &known[..], "the held buffer changed");
    });
}

// ---------------------------------------------------------------------
// Owned buffers, fixed-size outputs
// ---------------------------------------------------------------------

/// `push_owned` lends the vector's `len` bytes, not its capacity: a read of
/// a longer file into a vector of 8 bytes and a capacity of 64 fills the 8
/// and leaves the spare capacity as it was; an empty vector reads nothing.
#[test]
fn an_owned_vector_lends_its_length_not_its_capacity() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(256, 81);
    let file = uring_tests::file_of(&data);
    for len in [8usize, 0] {
        let mut buf = vec![CANARY; 64];
        buf.truncate(len);
        let (res, buf) = ring.scope(|s| {
            s.push_owned(buf, |b, sq| sq.push(Read::new(&file, b).user_data(1)))
                .unwrap();
            let mut cqe = next(s);
            (cqe.res(), cqe.take_buf().expect("the buffer, back"))
        });
        assert_eq!(res, len as i32);
        assert_eq!((buf.len(), &buf[..]), (len, &data[..len]));
        assert!(buf.capacity() >= 64);
        // SAFETY: the 64 bytes were initialised (to the canary) before the
        // truncation, and the vector has not been reallocated.
        let spare = unsafe { std::slice::from_raw_parts(buf.as_ptr().add(len), 64 - len) };
        assert!(intact(spare), "{len}: the spare capacity was written");
    }
}

/// `Statx` writes a whole `struct statx`, 256 bytes, whatever the mask:
/// `libc::statx` is that size, a mask with the reserved bit is refused
/// (`EINVAL`) by the ring's op and by the reactor's, and the bytes after
/// the structure keep their canaries.
#[test]
fn statx_masks_with_reserved_bits_are_refused_and_writes_fit_the_struct() {
    let _watch = uring_tests::watchdog();
    assert_eq!(std::mem::size_of::<libc::statx>(), 256);
    #[repr(C)]
    struct StatxThenCanary {
        stx: libc::statx,
        canary: [u8; 64],
    }
    let mut ring = Ring::new(8).unwrap();
    let file = uring_tests::file_of(b"x");
    let path = c"";
    for (mask, want) in [
        (u32::MAX, -libc::EINVAL),
        (libc::STATX__RESERVED as u32, -libc::EINVAL),
        (!(libc::STATX__RESERVED as u32), 0),
        (0, 0),
    ] {
        let mut g = StatxThenCanary {
            // SAFETY: all-zero bytes are a valid `statx` (plain integers).
            stx: unsafe { std::mem::zeroed() },
            canary: [CANARY; 64],
        };
        let cqe = complete(
            &mut ring,
            Statx::new(&file, path, &mut g.stx)
                .statx_flags(libc::AT_EMPTY_PATH)
                .mask(mask),
        );
        assert_eq!(cqe.res(), want, "mask {mask:#x}: {cqe:?}");
        assert!(intact(&g.canary), "mask {mask:#x}");
    }
    let reactor = Reactor::new().unwrap();
    let fd = SharedFd::new(file);
    let (r, _) = reactor
        .run_until(reactor.op(uring::reactor::ops::Statx::of(&fd).mask(u32::MAX)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
}

// ---------------------------------------------------------------------
// The reactor's owned buffers
// ---------------------------------------------------------------------

/// The reactor's reads fill at most what each owned buffer holds: boxed
/// slices of 0, 1 and 7 bytes, a vector's capacity (its length is only
/// what was read), from a pipe holding more; the pipe then gives the rest
/// in order, so the kernel took exactly what it reported.
#[test]
fn reactor_reads_fill_at_most_each_owned_buffer() {
    use uring::reactor::ops::Read as ReactorRead;
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let data = pattern(300, 91);
    let (rd, wr) = uring_tests::pipe();
    let mut wr = std::fs::File::from(wr);
    wr.write_all(&data).unwrap();
    let rd = SharedFd::new(rd);
    let mut at = 0;
    for len in [0usize, 1, 7] {
        let buf = vec![CANARY; len].into_boxed_slice();
        let (r, buf) = reactor
            .run_until(reactor.op(ReactorRead::new(&rd, buf, u64::MAX)))
            .unwrap();
        assert_eq!(r.unwrap() as usize, len);
        assert_eq!(&buf[..], &data[at..at + len]);
        at += len;
    }
    let mut buf = vec![CANARY; 16];
    buf.truncate(3);
    let (r, buf) = reactor
        .run_until(reactor.op(ReactorRead::new(&rd, buf, u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 16, "a vector lends its capacity");
    assert_eq!(&buf[..], &data[at..at + 16]);
    at += 16;
    drop(reactor);
    drop(wr);
    let mut rest = Vec::new();
    let fd = rd.try_unwrap().unwrap();
    std::fs::File::from(fd).read_to_end(&mut rest).unwrap();
    assert_eq!(rest, &data[at..]);
}

/// The reactor's vectored read fills its buffers in turn, the empty ones
/// skipped, each to its own length; with more than `UIO_MAXIOV` buffers it
/// fails with `EINVAL` and gives every buffer back untouched.
#[test]
fn reactor_vectored_reads_fill_each_buffer_to_its_own_length() {
    use uring::reactor::ops::ReadV as ReactorReadV;
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let data = pattern(4096, 95);
    let fd = SharedFd::new(uring_tests::file_of(&data));
    let lens = [0usize, 3, 0, 2, 5];
    let bufs: Vec<Box<[u8]>> = lens
        .iter()
        .map(|&n| vec![CANARY; n].into_boxed_slice())
        .collect();
    let (r, bufs) = reactor
        .run_until(reactor.op(ReactorReadV::new(&fd, bufs, 0)))
        .unwrap();
    assert_eq!(r.unwrap(), 10);
    let got: Vec<u8> = bufs.iter().flat_map(|b| b.to_vec()).collect();
    assert_eq!(got, &data[..10]);
    let bufs: Vec<Box<[u8]>> = (0..=UIO_MAXIOV)
        .map(|_| vec![CANARY; 1].into_boxed_slice())
        .collect();
    let (r, bufs) = reactor
        .run_until(reactor.op(ReactorReadV::new(&fd, bufs, 0)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert_eq!(bufs.len(), UIO_MAXIOV + 1);
    assert!(bufs.iter().all(|b| intact(b)));
}

/// A `RingBuf` used as a read's owned buffer lends its whole buffer, and no
/// more: two buffers of 32 bytes received from a stream, held; a read of a
/// longer file into the first fills its 32 bytes, and the second, right
/// after it in the ring's memory, keeps every byte. A receive into the
/// ring, which then holds buffers 2 and 3 only, stays in one of them.
#[test]
fn a_reactor_ring_buf_lends_its_buffer_and_not_the_next() {
    use uring::reactor::ops::{Read as ReactorRead, RecvRing};
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let group = match reactor.register_buf_ring(BufferGroup::new(75), 4, 32) {
        Ok(group) => group,
        Err(e) => {
            skip(format_args!("no provided-buffer rings: {e}"));
            return;
        }
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let rx = SharedFd::new(rx);
    let sent = pattern(64, 97);
    tx.write_all(&sent).unwrap();
    let mut held = Vec::new();
    for i in 0..2 {
        let (r, buf) = reactor
            .run_until(reactor.op(RecvRing::new(&rx, group)))
            .unwrap();
        assert_eq!(r.unwrap(), 32);
        let buf = buf.expect("a buffer");
        assert_eq!((buf.bid(), &buf[..]), (i, &sent[32 * i as usize..][..32]));
        held.push(buf);
    }
    let second = held.pop().unwrap();
    let first = held.pop().unwrap();
    assert_eq!(first.capacity(), 32);
    let data = pattern(100, 98);
    let file = SharedFd::new(uring_tests::file_of(&data));
    let (r, first) = reactor
        .run_until(reactor.op(ReactorRead::new(&file, first, 0)))
        .unwrap();
    assert_eq!(r.unwrap(), 32);
    assert_eq!(&first[..], &data[..32]);
    assert_eq!(&second[..], &sent[32..], "the next buffer changed");
    tx.write_all(&pattern(100, 99)).unwrap();
    let (r, third) = reactor
        .run_until(reactor.op(RecvRing::new(&rx, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 32);
    let third = third.expect("a buffer");
    assert!(third.bid() >= 2, "{third:?}");
    assert_eq!(&second[..], &sent[32..], "the next buffer changed");
    assert_eq!(&first[..], &data[..32], "the first buffer changed");
    drop((first, second, third));
    drop(reactor);
}
