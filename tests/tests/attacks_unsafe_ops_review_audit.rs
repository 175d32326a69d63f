//! A review of the `unsafe` blocks, `unsafe fn`s, `unsafe trait`s and
//! `unsafe impl`s of the op layer (`uring/src/op/`, `uring/src/ops.rs`,
//! `uring/src/ops/forward.rs`, `uring/src/args/`, `uring/src/types/`,
//! `uring/src/sys/`) and of the code `uring-macros` emits for an op table,
//! each `// SAFETY:` claim or trait contract checked against the safe paths
//! that reach it; attacked here where the existing suites stop short:
//!
//! - the buffer forms a `| select` argument takes (`SelectBuffer`): a
//!   `&mut Vec<u8>` lends its length, never its capacity, and
//!   `&mut [MaybeUninit<u8>]` (spare capacity) lends exactly the slice: the
//!   SQE bytes of every form, then the kernel's writes against canaries in
//!   the capacity behind them (`sqe_bytes.rs` checks the SQEs of slices
//!   only; no suite looks behind a `Vec`'s length or a spare-capacity
//!   slice);
//! - `MsgHdr::control`'s check, which walks the records as
//!   `for_each_cmsghdr` does and stops at a malformed one: what lies after
//!   it is never looked at, which is sound only if every kernel path that
//!   walks sent records fails the whole message there (`CMSG_OK` in
//!   `__scm_send`, `udp_cmsg_send`, `ip_cmsg_send`, `sock_cmsg_send`): a
//!   descriptor record hidden behind a malformed one on Unix datagram and
//!   stream sockets, UDP and TCP;
//! - `ThenWrite`'s `fits_ring`, which is its write's: a pair whose write
//!   (given, or swapped in by `then_write_with`'s closure) names another
//!   ring's registered file is refused whole by `push` and `push_linked`,
//!   and its read never runs;
//! - `FixedBuf`, which carries no ring (its `SqeField` has the default
//!   `fits_ring`): an index of one ring's buffer table pushed to another
//!   ring is bounded by the kernel against the table of the ring it runs
//!   on, so the borrowed slice, not the index, decides what is touched;
//! - `SockAddrBuf::as_out_ptrs`, which resets the length word at each push
//!   (`Accept`'s `addr2`) and at `MsgHdrMut::from`: a buffer shortened with
//!   `set_len` still receives a whole address.
//!
//! Read against Linux 6.18: `io_uring/net.c` (`io_send_setup`,
//! `io_sendmsg_copy_hdr`, `io_recvmsg_copy_hdr`, `io_accept_prep`),
//! `net/socket.c` (`____sys_sendmsg`, `__copy_msghdr`,
//! `move_addr_to_user`), `net/core/scm.c` (`__scm_send`),
//! `net/core/sock.c` (`sock_cmsg_send`), `net/ipv4/ip_sockglue.c`
//! (`ip_cmsg_send`), `net/ipv4/udp.c` (`udp_cmsg_send`),
//! `include/linux/socket.h` (`CMSG_OK`, `__cmsg_nxthdr`),
//! `io_uring/rw.c` (`io_prep_rw`, `io_init_rw_fixed`), `io_uring/rsrc.c`
//! (`io_find_buf_node`, `io_import_reg_buf`, `validate_fixed_range`),
//! `io_uring/kbuf.c` and `include/uapi/linux/io_uring.h`.
//!
//! Every test is safe code against the running kernel, but for the SQE
//! reads (union fields of `io_uring_sqe`), the registration of buffers and
//! the canary checks in a `Vec`'s capacity, each with its `// SAFETY:`
//! comment.
//!
//! # The blocks reviewed (file:line at the time of the review: verdict)
//!
//! `uring/src/op/mod.rs`
//! - 32 `Entry`, 52 `Prepare`, 165 `Submission`, 188 `Unborrowed`, 204
//!   `ChainNext`, 218 `ChainStart`, 233 `AcceptsLinkTimeout`, 255
//!   `Scoped`, 271 `FitsSqe`, 287 `AfterLink` (traits): contracts are
//!   implemented only by the macro (behind the entry's `unsafe`), the
//!   chain types and `ThenWrite`/`Either`; sound.
//! - 135 `sqe_may_post_more` union read: sound, plain integers.
//! - 335 `OwnedTarget::into_sqe_target`: sound, called only by the
//!   generated `prepare` (`uring-macros/src/expand/sqe.rs:89`).
//! - 409, 417 `SqeSlot::write`/`write_with_cmd`: sound; `SqeSlot` has
//!   private fields and is made only by `SqWriter::next_slot`, whose
//!   constructor is `pub(crate) unsafe`; every `io_uring_sqe` union member
//!   spans its union (`sys/abi.rs` 61-170), so a value built in safe code
//!   has no uninitialised byte.
//! - 427 `SqeSlot::ring_owned`: sound, one `Timespec` per SQ index, the
//!   array grown with the SQ on resize (`ring/memory.rs` 507).
//! - 457, 467, 478 `SqWriter`: sound, at most one past the end.
//! - 509/515 `SelectOnly` for `BufferGroup`: sound, no address.
//! - 568 `op::link`: sound, `unsafe` and hidden; takes a `LinkKind`.
//!
//! `uring/src/op/field.rs`
//! - 39 `same_width!`, 68 `i32 -> u64` (sign-extended), 79 `u64 -> (addr,
//!   len)` (FADVISE's 64-bit length), 90, 98: sound, no address.
//! - 116, 130 `&[T]`/`&mut [T]`: sound; zero-sized `T` refused at compile
//!   time; length in items, the unit the entry vouches for.
//! - 145 `&CStr`, 153 `&SockAddr` (length at most 110), 162, 177
//!   `SockAddrBuf` (length word reset to 128 at each push: tested below),
//!   188 `Fixed` (`fits_ring`), 202 `BufferPool` (count bounded by the
//!   region; `#[retains_memory]`, so raw pushes only), 210: sound.
//! - 231-313 `SelectBuffer` (nine impls): sound; each lends its own
//!   pointer and its length (a `Vec`'s `len`, an array's `N`, a spare
//!   capacity slice's length), `BufferSelect` no address (tested below).
//!
//! `uring/src/ops.rs` (the table, every entry `unsafe struct`): each field
//! checked against the kernel's prep of its opcode; sound. Notes: `RecvMsg`
//! and `RecvMsgSelect` type their `ioprio` with `SendFlags`, whose `BUNDLE`
//! the kernel refuses for RECVMSG (`EINVAL`, `attacks_op_table_gaps_audit`);
//! `NvmeCmd::IO`/`ADMIN` are safe `UringCmdOp`s, but every command area
//! they can meet from safe code is zero (an I/O flush of namespace 0,
//! which the driver refuses as a namespace mismatch, or admin opcode 0,
//! Delete I/O Submission Queue, of queue 0, an invalid queue identifier),
//! since `Cmd16`, `Cmd80` and `NvmeCmd` are made unsafely (not tested: no
//! NVMe device here).
//!
//! `uring/src/ops/forward.rs`
//! - 281 `Prepare for ThenWrite`, 301 the `addr`/`len` rewrite: sound;
//!   `fits_ring` is the final write's, whatever the closure built (tested
//!   below). 316, 322, 327 marker impls: sound.
//!
//! `uring/src/args/`
//! - `msg.rs` 23, 175, 325 zeroed headers; 64 `control` (walk checked
//!   below); 76 `control_unchecked` (`unsafe`); 140 `&MsgHdr`; 194 `from`
//!   (reads the word it just reset); 262 `control_messages` (bounded by
//!   the room lent); 298 `&mut MsgHdrMut` (rooms restored each push); 356
//!   `&MsgLayout` (null pointers): sound.
//! - `cmsg.rs` 229 `read_unaligned` of integer-only structs: sound; the
//!   builder (`ControlMessagesBuf::push`) writes within what it resized.
//! - `iovec.rs` 14: sound (base never used by READV | BUFFER_SELECT).
//! - `kernel.rs` 43 `SpliceSource` (`fits_ring`), 114/125 `MadviseRange`
//!   (`unsafe` constructor), 196, 205, 214, 223, 234, 243, 283, 292, 301,
//!   309, 318: sound (sizes of `statx`, `siginfo_t`, `epoll_event`,
//!   `open_how` are the kernel's).
//! - `slots.rs` 100 `PipeSlots` (one-slot handle -> `1 << 31`), 129, 196
//!   `FilesAt` (sign-extended), 269 `FileUpdates` (fresh copy each push),
//!   293 `FixedBuf` (no ring: bounded by the kernel, tested below), 363:
//!   sound.
//! - `cmd.rs` 19-32 `AsSocket` impls, 66/68 `fstat`, 81, 120, 143, 154,
//!   179, 200, 226, 248, 288-335, 360, 552, 578: sound.
//! - `nop.rs`, `update.rs`, `socket.rs` impls: numbers and flags; sound.
//! - `tx_timestamp.rs` 154: sound (a slot of the 32-byte CQE copy).
//!
//! `uring/src/types/`: `addr.rs` 75-304 (zeroed storage, casts after the
//! family check, lengths clamped), `flags.rs` 383-425, `integrity.rs` 137
//! (`PiRef` from `&mut PiAttr` only), `target.rs` 72 (`unsafe`), 117 (the
//! ring's own descriptor, borrowed through `&Ring`), 420, 453 (an owned
//! descriptor given up to a closing op): sound.
//!
//! `uring/src/sys/`: `abi.rs` 243 (`Debug` reads of full-width members),
//! 276 (zeroed SQE); `mod.rs` syscall wrappers (`unsafe fn`s, callers'
//! contracts): sound.
//!
//! `uring/src/op/arbitrary/values.rs` 450, 457, 477 (zeroed `statx`,
//! `siginfo_t`, `open_how`), 553 (a zero `Cmd16`, sound only with a
//! `UringCmdOp` the context vouched for), 564 (an NVMe flush): sound.
//!
//! `uring-macros/src/expand/`: `traits.rs` 26 `Scoped` (unless
//! `#[retains_memory]`), 39 `Unborrowed` (no lifetime and no target: every
//! borrow such an op holds is `'static`), 45 (owned target), 55-96 chain
//! and size markers; `mod.rs` 466-541 the `op::link` calls behind the
//! bounds; `sqe.rs` 89 the owned target: sound, each behind the entry's
//! `unsafe` or the bounds the generated methods state.

use std::io::{IoSlice, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};

use uring::ops::{Accept, Read, ReadFixed, Recv, RecvMsg, Send, SendMsg, Write};
use uring::{
    BufferGroup, ControlMessagesBuf, Linked, MsgHdr, MsgHdrMut, PushErrorKind, Ring, SockAddrBuf,
    sys,
};
use uring_tests::{complete, pipe, push_lent, submit_and_reap, watchdog};

const CANARY: u8 = 0xA5;

/// `(opcode, flags, addr, len, buf_group)` of an SQE.
fn shape(sqe: &sys::io_uring_sqe) -> (u8, u8, u64, u32, u16) {
    // SAFETY: every member of the `addr` and `buf` unions is a plain
    // integer spanning its union, and an SQE read back from the queue was
    // written whole.
    let (addr, group) = unsafe { (sqe.addr.addr, sqe.buf.buf_group) };
    (sqe.opcode, sqe.flags, addr, sqe.len, group)
}

// ---------------------------------------------------------------------
// `SelectBuffer`: every form lends its own bytes, and no more.

/// Each buffer form a `| select` argument accepts writes its own pointer
/// and its length into the SQE, with no group and no `BUFFER_SELECT`; a
/// `Vec` lends its length, not its capacity. Then the kernel runs them:
/// each read fills exactly the bytes lent out of a pipe holding more, each
/// send sends exactly the bytes lent.
#[test]
fn every_select_buffer_form_writes_its_own_bytes_into_the_sqe() {
    let _watch = watchdog();
    let mut ring = Ring::new(32).unwrap();
    let (rx, tx) = pipe();
    let (sa, sb) = UnixStream::pair().unwrap();
    let mut tx = std::fs::File::from(tx);
    let data = uring_tests::pattern(256, 1);
    tx.write_all(&data).unwrap();

    let mut slice = [CANARY; 5];
    let mut vec = Vec::with_capacity(64);
    vec.extend_from_slice(&[CANARY; 7]);
    let mut array = [CANARY; 9];
    let mut spare: Vec<u8> = Vec::with_capacity(32);
    let send_slice = [1u8; 3];
    let mut send_mut = [2u8; 4];
    let send_array = [3u8; 6];
    let mut send_vec = Vec::with_capacity(100);
    send_vec.extend_from_slice(&[4u8; 2]);

    let want = [
        (sys::IORING_OP_READ, slice.as_ptr() as u64, 5),
        (sys::IORING_OP_READ, vec.as_ptr() as u64, 7),
        (sys::IORING_OP_READ, array.as_ptr() as u64, 9),
        (sys::IORING_OP_READ, spare.as_ptr() as u64, 11),
        (sys::IORING_OP_SEND, send_slice.as_ptr() as u64, 3),
        (sys::IORING_OP_SEND, send_mut.as_ptr() as u64, 4),
        (sys::IORING_OP_SEND, send_array.as_ptr() as u64, 6),
        (sys::IORING_OP_SEND, send_vec.as_ptr() as u64, 2),
    ];
    assert!(vec.capacity() >= 64 && send_vec.capacity() >= 100);
    // The reads are linked so that they take the pipe's bytes in order.
    push_lent!(
        ring,
        Read::new(&rx, &mut slice[..])
            .user_data(0)
            .link(Read::new(&rx, &mut vec).user_data(1))
            .link(Read::new(&rx, &mut array).user_data(2))
            .link(Read::new(&rx, &mut spare.spare_capacity_mut()[..11]).user_data(3))
    )
    .unwrap();
    push_lent!(
        ring,
        Send::new(&sa, &send_slice[..])
            .user_data(4)
            .link(Send::new(&sa, &mut send_mut[..]).user_data(5))
            .link(Send::new(&sa, &send_array).user_data(6))
            .link(Send::new(&sa, &send_vec).user_data(7))
    )
    .unwrap();
    let sqes: Vec<sys::io_uring_sqe> = ring.pending_sqes().collect();
    assert_eq!(sqes.len(), 8);
    for (i, (sqe, (opcode, addr, len))) in sqes.iter().zip(want).enumerate() {
        let link = if i % 4 == 3 { 0 } else { sys::IOSQE_IO_LINK };
        assert_eq!(
            shape(sqe),
            (opcode, link, addr, len, 0),
            "form {i}: its own pointer and length, no group, no selection"
        );
    }
    let cqes = submit_and_reap(&mut ring, 8);
    let mut res: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    res.sort_unstable();
    assert_eq!(
        res,
        [
            (0, 5),
            (1, 7),
            (2, 9),
            (3, 11),
            (4, 3),
            (5, 4),
            (6, 6),
            (7, 2)
        ]
    );
    assert_eq!(&slice[..], &data[..5]);
    assert_eq!(&vec[..], &data[5..12], "a Vec gets its length");
    assert_eq!(&array[..], &data[12..21]);
    // SAFETY: the kernel wrote the 11 bytes of spare capacity lent (the
    // read's result says 11), which lie within the capacity.
    unsafe { spare.set_len(11) };
    assert_eq!(&spare[..], &data[21..32]);
    drop(sa);
    let mut sent = Vec::new();
    (&sb).read_to_end(&mut sent).unwrap();
    assert_eq!(sent, [&[1u8; 3][..], &[2; 4], &[3; 6], &[4; 2]].concat());
    // The pipe kept the rest: nothing more was read.
    drop(tx);
    let mut rest = Vec::new();
    std::fs::File::from(rx).read_to_end(&mut rest).unwrap();
    assert_eq!(rest, &data[32..]);
}

/// A selection lends no address: `addr` 0, its length in `len`, its group
/// in `buf_group`, and `IOSQE_BUFFER_SELECT` in the flags, whatever SQE
/// flags the op was given besides.
#[test]
fn a_selection_lends_no_address_only_its_length_and_group() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let (a, _b) = UnixStream::pair().unwrap();
    let group = BufferGroup::new(77);
    push_lent!(
        ring,
        Read::new(&rx, group.select(300))
            .flags(uring::SqeFlags::ASYNC)
            .user_data(1)
    )
    .unwrap();
    push_lent!(ring, Recv::new(&a, group.select(0)).user_data(2)).unwrap();
    push_lent!(ring, Send::new(&a, group.select(12)).user_data(3)).unwrap();
    let sqes: Vec<sys::io_uring_sqe> = ring.pending_sqes().collect();
    let select = sys::IOSQE_BUFFER_SELECT;
    assert_eq!(
        shape(&sqes[0]),
        (sys::IORING_OP_READ, select | sys::IOSQE_ASYNC, 0, 300, 77)
    );
    assert_eq!(shape(&sqes[1]), (sys::IORING_OP_RECV, select, 0, 0, 77));
    assert_eq!(shape(&sqes[2]), (sys::IORING_OP_SEND, select, 0, 12, 77));
    // No buffer was provided to the group: every op fails, none touches
    // memory (a send selects through `io_buffers_select`, which answers
    // `ENOENT` for a group that does not exist; a read and a receive
    // through `io_buffer_select`, `ENOBUFS`).
    let cqes = submit_and_reap(&mut ring, 3);
    let mut res: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    res.sort_unstable();
    assert_eq!(
        res,
        [(1, -libc::ENOBUFS), (2, -libc::ENOBUFS), (3, -libc::ENOENT)]
    );
}

/// A read into a `Vec` whose capacity exceeds its length writes its length
/// alone: the capacity behind it, initialised with canaries before the
/// `Vec` was truncated, keeps them, though the pipe held far more. A read
/// into a slice of spare capacity writes that slice alone.
#[test]
fn a_vec_and_spare_capacity_are_written_within_what_they_lend() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let data = uring_tests::pattern(4096, 9);
    std::fs::File::from(tx).write_all(&data).unwrap();

    let mut vec = vec![CANARY; 512];
    vec.truncate(16);
    let cqe = complete(&mut ring, Read::new(&rx, &mut vec).user_data(1));
    assert_eq!(cqe.res(), 16, "{cqe:?}");
    assert_eq!(vec.capacity(), 512);
    // SAFETY: all 512 bytes were initialised by `vec![CANARY; 512]`;
    // `truncate` kept the allocation, and the kernel writes only bytes.
    unsafe { vec.set_len(512) };
    assert_eq!(&vec[..16], &data[..16]);
    assert!(
        vec[16..].iter().all(|&b| b == CANARY),
        "the kernel wrote past the Vec's length into its capacity"
    );

    let mut spare = vec![CANARY; 256];
    spare.clear();
    let cqe = complete(
        &mut ring,
        Read::new(&rx, &mut spare.spare_capacity_mut()[..24]).user_data(2),
    );
    assert_eq!(cqe.res(), 24, "{cqe:?}");
    // SAFETY: the 256 bytes were initialised by `vec![CANARY; 256]` and
    // `clear` kept the allocation; the kernel writes only bytes.
    unsafe { spare.set_len(256) };
    assert_eq!(&spare[..24], &data[16..40]);
    assert!(
        spare[24..].iter().all(|&b| b == CANARY),
        "the kernel wrote past the spare capacity lent"
    );
}

// ---------------------------------------------------------------------
// `MsgHdr::control`: a malformed record hides nothing from the kernel.

/// A plain record, a record whose length is shorter than its header, and
/// an `SCM_RIGHTS` record after it.
fn rights_behind_a_malformed_record(fd: i32) -> Vec<u8> {
    let mut plain = ControlMessagesBuf::new();
    plain.push(libc::SOL_IP, libc::IP_TTL, &64i32.to_ne_bytes());
    let mut bytes = plain.as_bytes().to_vec();
    let header = std::mem::size_of::<libc::cmsghdr>();
    // The malformed record: `cmsg_len` 8, less than a header.
    let mut bad = vec![0u8; header];
    bad[..8].copy_from_slice(&8usize.to_ne_bytes());
    bad[8..12].copy_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
    bad[12..16].copy_from_slice(&libc::SCM_CREDENTIALS.to_ne_bytes());
    bytes.extend_from_slice(&bad);
    let mut rights = ControlMessagesBuf::new();
    rights.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &fd.to_ne_bytes());
    bytes.extend_from_slice(rights.as_bytes());
    bytes
}

/// `MsgHdr::control` walks the records as the kernel does and stops at the
/// first malformed one, so an `SCM_RIGHTS` record behind it is never
/// looked at and the header is accepted. That is sound only because each
/// kernel path that walks sent records fails the whole message at a record
/// that is not `CMSG_OK`: a Unix datagram and a Unix stream socket
/// (`__scm_send`), UDP (`udp_cmsg_send`) and TCP (`sock_cmsg_send`) each
/// refuse the send with `EINVAL`, send no byte, and the Unix peers receive
/// no descriptor.
#[test]
fn a_descriptor_record_behind_a_malformed_one_never_reaches_the_kernel() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let secret = tempfile::tempfile().unwrap();
    let control = rights_behind_a_malformed_record(secret.as_raw_fd());
    let payload = [IoSlice::new(b"payload")];
    let msg = MsgHdr::new(&payload)
        .control(&control)
        .expect("the walk stops at the malformed record: nothing unplain before it");

    // Unix datagram and stream sockets: the receiver gets nothing.
    let (dgram_a, dgram_b) = UnixDatagram::pair().unwrap();
    let (stream_a, stream_b) = UnixStream::pair().unwrap();
    for (what, sender) in [
        ("unix datagram", dgram_a.as_fd()),
        ("unix stream", stream_a.as_fd()),
    ] {
        let cqe = complete(&mut ring, SendMsg::new(&sender, &msg).user_data(1));
        assert_eq!(cqe.res(), -libc::EINVAL, "{what}: {cqe:?}");
    }
    for (what, receiver) in [
        ("unix datagram", dgram_b.as_fd()),
        ("unix stream", stream_b.as_fd()),
    ] {
        let mut data = [0u8; 16];
        let mut room = [0u8; 64];
        let mut iov = [std::io::IoSliceMut::new(&mut data)];
        let mut hdr = MsgHdrMut::new(&mut iov).control(&mut room);
        let cqe = complete(
            &mut ring,
            RecvMsg::new(&receiver, &mut hdr)
                .msg_flags(uring::MsgFlags::DONTWAIT)
                .user_data(2),
        );
        assert_eq!(cqe.res(), -libc::EAGAIN, "{what}: nothing was sent");
        assert_eq!(hdr.control_messages().count(), 0, "{what}");
    }

    // UDP: nothing arrives.
    let udp_rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_tx.connect(udp_rx.local_addr().unwrap()).unwrap();
    let cqe = complete(&mut ring, SendMsg::new(&udp_tx, &msg).user_data(3));
    assert_eq!(cqe.res(), -libc::EINVAL, "udp: {cqe:?}");
    udp_rx.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    assert!(udp_rx.recv(&mut buf).is_err(), "udp: a datagram arrived");

    // TCP: nothing arrives.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_tx = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (tcp_rx, _) = listener.accept().unwrap();
    let cqe = complete(&mut ring, SendMsg::new(&tcp_tx, &msg).user_data(4));
    assert_eq!(cqe.res(), -libc::EINVAL, "tcp: {cqe:?}");
    tcp_rx.set_nonblocking(true).unwrap();
    assert!((&tcp_rx).read(&mut buf).is_err(), "tcp: bytes arrived");
}

// ---------------------------------------------------------------------
// `ThenWrite::fits_ring`: the final write's target decides.

/// A `then_write` pair whose write names a slot of another ring's table,
/// given as its destination or swapped in by `then_write_with`'s closure,
/// is refused whole (`ForeignFile`) by a scope's `push` and `push_linked`:
/// no SQE reaches the queue, and the read never runs (the pipe keeps its
/// bytes). The same pair with this ring's slot runs.
#[test]
fn a_then_write_pair_naming_another_ring_s_slot_is_refused_whole() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    let own_file = tempfile::tempfile().unwrap();
    let foreign_file = tempfile::tempfile().unwrap();
    let own = ring.register_files(&[own_file.as_fd()]).unwrap();
    let foreign = other.register_files(&[foreign_file.as_fd()]).unwrap();
    let (rx, tx) = pipe();
    std::fs::File::from(tx).write_all(b"abcd").unwrap();
    let mut buf = [CANARY; 4];
    let mut other_buf = [CANARY; 4];
    let space = ring.space_left();
    // One scope per attempt: a refused push hands its op back, whose
    // borrow of `buf` lasts the scope.
    let kind = ring.scope(|s| {
        let kind = s
            .push(Read::new(&rx, &mut buf[..]).then_write(foreign.get(0).unwrap(), 0))
            .unwrap_err()
            .kind();
        assert_eq!(s.in_flight(), 0);
        kind
    });
    assert_eq!(kind, PushErrorKind::ForeignFile, "given");
    let kind = ring.scope(|s| {
        s.push(
            Read::new(&rx, &mut buf[..]).then_write_with(own.get(0).unwrap(), |_| {
                Write::new(foreign.get(0).unwrap(), &[])
            }),
        )
        .unwrap_err()
        .kind()
    });
    assert_eq!(
        kind,
        PushErrorKind::ForeignFile,
        "swapped in by the closure"
    );
    let kind = ring.scope(|s| {
        s.push_linked(Linked::new(vec![
            Read::new(&rx, &mut buf[..]).then_write(own.get(0).unwrap(), 0),
            Read::new(&rx, &mut other_buf[..]).then_write(foreign.get(0).unwrap(), 0),
        ]))
        .unwrap_err()
        .kind()
    });
    assert_eq!(kind, PushErrorKind::ForeignFile, "push_linked");
    assert_eq!(ring.space_left(), space, "no SQE was left in the queue");
    assert_eq!(ring.pending(), 0);
    assert_eq!((buf, other_buf), ([CANARY; 4], [CANARY; 4]), "no read ran");
    let done = ring.scope(|s| {
        s.push(
            Read::new(&rx, &mut buf[..])
                .user_data(1)
                .then_write_with(own.get(0).unwrap(), |w| w.user_data(2)),
        )
        .unwrap();
        let mut done = vec![];
        for _ in 0..2 {
            let cqe = uring_tests::next_scope_cqe(s);
            done.push((cqe.user_data(), cqe.res()));
        }
        done
    });
    assert_eq!(done, [(1, 4), (2, 4)]);
    assert_eq!(&buf, b"abcd");
    let mut written = Vec::new();
    (&own_file).read_to_end(&mut written).unwrap();
    assert_eq!(written, b"abcd");
    let mut untouched = Vec::new();
    (&foreign_file).read_to_end(&mut untouched).unwrap();
    assert!(untouched.is_empty(), "the other ring's file was written");
}

// ---------------------------------------------------------------------
// `FixedBuf` carries no ring: the kernel bounds it by the table it runs on.

/// A `FixedBuf` names an index, not a ring. Pushed to a ring whose table
/// holds another buffer at that index, a `ReadFixed` of a slice of the
/// first ring's buffer is refused by the kernel (`EFAULT`: the slice lies
/// outside the buffer the index names there), and neither buffer is
/// written; an index past that ring's table is refused the same way. The
/// slice the op borrows, checked against the registered range, is what
/// bounds the kernel's writes: the index alone never aims them.
#[test]
fn a_registered_buffer_index_of_another_ring_is_bounded_by_the_ring_it_runs_on() {
    let _watch = watchdog();
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    let mut region_a = vec![CANARY; 4096];
    let mut spare_a = vec![CANARY; 4096];
    let mut region_b = vec![CANARY; 4096];
    // SAFETY: the regions outlive both registrations, which are undone
    // below before they are dropped, and no op using them is in flight
    // then (each op is reaped by `complete`).
    let (bufs_a, bufs_b) = unsafe {
        let bufs_a = a
            .register_buffers(&[
                std::io::IoSliceMut::new(&mut region_a),
                std::io::IoSliceMut::new(&mut spare_a),
            ])
            .unwrap();
        let bufs_b = b
            .register_buffers(&[std::io::IoSliceMut::new(&mut region_b)])
            .unwrap();
        (bufs_a, bufs_b)
    };
    let (rx, tx) = pipe();
    std::fs::File::from(tx)
        .write_all(&uring_tests::pattern(64, 3))
        .unwrap();
    let index0 = bufs_a.get(0).unwrap();
    let index1 = bufs_a.get(1).unwrap();
    // A's index 0 on B: B's buffer 0 is region_b, which region_a's slice
    // is not in.
    let cqe = complete(&mut b, ReadFixed::new(&rx, &mut region_a[..16], index0));
    assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
    // A's index 1 on B, whose table has one buffer.
    let cqe = complete(&mut b, ReadFixed::new(&rx, &mut spare_a[..16], index1));
    assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
    assert!(region_a.iter().all(|&x| x == CANARY));
    assert!(spare_a.iter().all(|&x| x == CANARY));
    assert!(region_b.iter().all(|&x| x == CANARY));
    // The same index with a slice of B's own buffer reads into that slice.
    let cqe = complete(&mut b, ReadFixed::new(&rx, &mut region_b[8..24], index0));
    assert_eq!(cqe.res(), 16, "{cqe:?}");
    assert_eq!(&region_b[8..24], &uring_tests::pattern(64, 3)[..16]);
    assert!(region_b[..8].iter().all(|&x| x == CANARY));
    assert!(region_b[24..].iter().all(|&x| x == CANARY));
    b.unregister_buffers(bufs_b).unwrap();
    a.unregister_buffers(bufs_a).unwrap();
}

// ---------------------------------------------------------------------
// `SockAddrBuf`: the length word is reset at each push.

/// A `SockAddrBuf` whose length was cut with `set_len` (to 0, and to 2, an
/// unbound Unix peer's) is given the whole storage again when it is lent:
/// `Accept` writes a whole IPv6 peer address into it, and a `RecvMsg`
/// through `MsgHdrMut::from` a whole IPv6 sender's (the header's name
/// length says 28 bytes, the storage's room).
#[test]
fn an_address_buffer_cut_short_receives_whole_addresses_again() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return uring_tests::skip("no IPv6 loopback");
    };
    let mut peer = SockAddrBuf::new();
    for cut in [0, 2] {
        peer.set_len(cut);
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let cqe = complete(&mut ring, Accept::new(&listener).peer(Some(&mut peer)));
        assert!(cqe.res() >= 0, "{cqe:?}");
        // SAFETY: the accept's result is a new descriptor of this process,
        // owned by nothing else.
        let _conn =
            unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(cqe.res()) };
        assert_eq!(
            peer.socket_addr(),
            Some(client.local_addr().unwrap()),
            "cut to {cut}"
        );
    }

    let rx = UdpSocket::bind("[::1]:0").unwrap();
    let tx = UdpSocket::bind("[::1]:0").unwrap();
    tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
    let mut from = SockAddrBuf::new();
    from.set_len(2);
    let mut data = [0u8; 8];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut hdr = MsgHdrMut::new(&mut iov).from(&mut from);
    let cqe = complete(&mut ring, RecvMsg::new(&rx, &mut hdr));
    assert_eq!(cqe.res(), 5, "{cqe:?}");
    let name_len = hdr.name_len();
    assert_eq!(name_len as usize, std::mem::size_of::<libc::sockaddr_in6>());
    // `hdr`'s borrow of `from` ends here.
    from.set_len(name_len);
    assert_eq!(from.socket_addr(), Some(tx.local_addr().unwrap()));
}
