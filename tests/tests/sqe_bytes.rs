//! Every op of the table, in every form, writes the SQE liburing writes.
//!
//! Each test builds one op (or chain) with concrete arguments, pushes it
//! without submitting it, reads the SQEs back from the queue
//! (`Ring::pending_sqes`), and compares all 64 bytes of each with the SQE
//! that the liburing helper the test is named after writes for the same
//! arguments, on an SQE `io_uring_get_sqe` handed out: the fields
//! `io_uring_prep_rw` sets (`opcode`, `fd`, `off`, `addr`, `len`), those the
//! helper sets after it, and zero everywhere else, including the fields the
//! kernel ignores for that opcode. Where liburing has no helper for a form,
//! the test says which fields a caller of liburing sets by hand. The SQ
//! slots hold junk before each push, so a byte the op leaves alone shows.
//!
//! Pointer fields are the addresses of the very buffers the op borrowed. A
//! timespec the ring keeps for the kernel (timeouts) lives in the ring's
//! storage, so its pointer is checked by the value it points to and every
//! other byte exactly.
//!
//! `tests/scripts/sqe_dump.c` prints what liburing's helpers write for
//! these arguments; CI does not run it.

use std::ffi::CStr;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use uring::ops::*;
use uring::{
    AcceptFlags, BlockDevice, BufferGroup, BufferPool, CancelFlags, CancelOpcode, DirectSlot, Fd,
    FileUpdates, FilesAt, FsyncFlags, FutexFlags, FutexWaitV, InstallFlags, MadviseRange, MsgFlags,
    MsgHdr, MsgHdrMut, MsgLayout, MsgRingFlags, PollEvents, PollFlags, RecvFlags, Ring, RingSlot,
    RwFlags, SendFlags, SendZcFlags, SockAddr, SockAddrBuf, SockOpt, SpliceFlags, SqeFlags,
    Submission, TimeoutFlags, Timespec, UringCmdOp, WaitIdTarget, sys,
};
use uring_tests::skip;

// ---------------------------------------------------------------------------
// The SQE, field by field, and the one comparison.
// ---------------------------------------------------------------------------

/// `struct io_uring_sqe` as plain fields, each union by its first member
/// (the name liburing's `io_uring_initialize_sqe` and `io_uring_prep_rw`
/// write): `off` is also `addr2` and `cmd_op`/`__pad1`; `addr` is also
/// `splice_off_in` and `level`/`optname`; `op_flags` is `rw_flags` and
/// every other per-op flags word; `buf_index` is also `buf_group`;
/// `file_index` is also `splice_fd_in`, `optlen`, `zcrx_ifq_idx` and
/// `addr_len`/`__pad3`; `addr3` is also `optval`; `pad2` is `__pad2[0]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Sqe {
    opcode: u8,
    flags: u8,
    ioprio: u16,
    fd: i32,
    off: u64,
    addr: u64,
    len: u32,
    op_flags: u32,
    user_data: u64,
    buf_index: u16,
    personality: u16,
    file_index: u32,
    addr3: u64,
    pad2: u64,
}

/// An SQE of zeros: what `io_uring_get_sqe` hands out once liburing's
/// helpers have written what they write (`user_data` aside, which a caller
/// sets).
const ZERO: Sqe = Sqe {
    opcode: 0,
    flags: 0,
    ioprio: 0,
    fd: 0,
    off: 0,
    addr: 0,
    len: 0,
    op_flags: 0,
    user_data: 0,
    buf_index: 0,
    personality: 0,
    file_index: 0,
    addr3: 0,
    pad2: 0,
};

impl Sqe {
    fn to_bytes(self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0] = self.opcode;
        b[1] = self.flags;
        b[2..4].copy_from_slice(&self.ioprio.to_ne_bytes());
        b[4..8].copy_from_slice(&self.fd.to_ne_bytes());
        b[8..16].copy_from_slice(&self.off.to_ne_bytes());
        b[16..24].copy_from_slice(&self.addr.to_ne_bytes());
        b[24..28].copy_from_slice(&self.len.to_ne_bytes());
        b[28..32].copy_from_slice(&self.op_flags.to_ne_bytes());
        b[32..40].copy_from_slice(&self.user_data.to_ne_bytes());
        b[40..42].copy_from_slice(&self.buf_index.to_ne_bytes());
        b[42..44].copy_from_slice(&self.personality.to_ne_bytes());
        b[44..48].copy_from_slice(&self.file_index.to_ne_bytes());
        b[48..56].copy_from_slice(&self.addr3.to_ne_bytes());
        b[56..64].copy_from_slice(&self.pad2.to_ne_bytes());
        b
    }

    fn from_bytes(b: &[u8; 64]) -> Sqe {
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().unwrap());
        Sqe {
            opcode: b[0],
            flags: b[1],
            ioprio: u16_at(2),
            fd: u32_at(4) as i32,
            off: u64_at(8),
            addr: u64_at(16),
            len: u32_at(24),
            op_flags: u32_at(28),
            user_data: u64_at(32),
            buf_index: u16_at(40),
            personality: u16_at(42),
            file_index: u32_at(44),
            addr3: u64_at(48),
            pad2: u64_at(56),
        }
    }

    /// Each field's name (liburing's), byte offset and value.
    fn fields(&self) -> [(&'static str, usize, u64); 14] {
        [
            ("opcode", 0, u64::from(self.opcode)),
            ("flags", 1, u64::from(self.flags)),
            ("ioprio", 2, u64::from(self.ioprio)),
            ("fd", 4, u64::from(self.fd as u32)),
            ("off", 8, self.off),
            ("addr", 16, self.addr),
            ("len", 24, u64::from(self.len)),
            ("rw_flags", 28, u64::from(self.op_flags)),
            ("user_data", 32, self.user_data),
            ("buf_index", 40, u64::from(self.buf_index)),
            ("personality", 42, u64::from(self.personality)),
            ("file_index", 44, u64::from(self.file_index)),
            ("addr3", 48, self.addr3),
            ("__pad2", 56, self.pad2),
        ]
    }
}

impl From<sys::io_uring_sqe> for Sqe {
    fn from(sqe: sys::io_uring_sqe) -> Sqe {
        const _: () = assert!(mem::size_of::<sys::io_uring_sqe>() == 64);
        // SAFETY: `io_uring_sqe` is 64 bytes without padding (its fields
        // add up to 64, checked in `sys`), and this copy was read from the
        // SQ array, whose bytes are all initialised.
        let bytes: [u8; 64] = unsafe { mem::transmute(sqe) };
        Sqe::from_bytes(&bytes)
    }
}

/// Asserts that `ours` (what the op wrote) is byte for byte `theirs` (what
/// liburing's `helper` writes); on a mismatch, shows both field by field.
#[track_caller]
fn assert_sqe(helper: &str, ours: &Sqe, theirs: &Sqe) {
    if ours.to_bytes() == theirs.to_bytes() {
        return;
    }
    let mut report = format!(
        "{helper}: the SQE differs from liburing's\n{:<12} {:>4} {:>20} {:>20}\n",
        "field", "at", "ours", "liburing"
    );
    for ((name, at, a), (_, _, b)) in ours.fields().into_iter().zip(theirs.fields()) {
        let mark = if a == b { "" } else { "   <- differs" };
        writeln!(report, "{name:<12} {at:>4} {a:>#20x} {b:>#20x}{mark}").unwrap();
    }
    panic!("{report}");
}

/// Pushes `op` on `ring` and returns the SQEs it wrote, in order.
fn pushed<S: Submission>(ring: &mut Ring, op: S) -> Vec<Sqe> {
    let before = ring.pending() as usize;
    // SAFETY: nothing pushed after `dirty` is submitted, and the ring has
    // no SQ thread, so the kernel never reads these SQEs: nothing the op
    // borrows (buffers, descriptors, slots) is used by the kernel.
    unsafe { ring.push_unchecked(op) }.expect("room in the SQ");
    ring.pending_sqes().skip(before).map(Sqe::from).collect()
}

/// Pushes a one-SQE `op` and asserts that it wrote `theirs`.
#[track_caller]
fn assert_op<S: Submission>(helper: &str, ring: &mut Ring, op: S, theirs: Sqe) {
    assert_eq!(S::SQES, 1, "{helper}: one SQE");
    let ours = pushed(ring, op);
    assert_eq!(ours.len(), 1, "{helper}: one SQE pushed");
    assert_sqe(helper, &ours[0], &theirs);
}

/// Asserts that the SQEs of a chain are `theirs`, in order.
#[track_caller]
fn assert_sqes(helper: &str, ours: &[Sqe], theirs: &[Sqe]) {
    assert_eq!(ours.len(), theirs.len(), "{helper}: SQEs pushed");
    for (i, (ours, theirs)) in ours.iter().zip(theirs).enumerate() {
        assert_sqe(&format!("{helper} [SQE {i}]"), ours, theirs);
    }
}

/// Pushes a chain and asserts that its SQEs are `theirs`, in order.
#[track_caller]
fn assert_chain<S: Submission>(helper: &str, ring: &mut Ring, chain: S, theirs: &[Sqe]) {
    let ours = pushed(ring, chain);
    assert_sqes(helper, &ours, theirs);
}

/// Where an SQE points at its timespec.
#[derive(Clone, Copy)]
enum TimespecIn {
    /// `addr` (TIMEOUT, LINK_TIMEOUT).
    Addr,
    /// `off`, as `addr2` (TIMEOUT_REMOVE's updates).
    Off,
}

/// For an SQE whose timespec the ring keeps: checks the timespec it points
/// to is `value`, then puts the address liburing would have written (that
/// of the caller's timespec, `theirs`) in its place, so that the rest of
/// the SQE can be compared byte for byte.
#[track_caller]
fn ring_owned_timespec(
    sqe: &mut Sqe,
    field: TimespecIn,
    value: Timespec,
    theirs: &sys::__kernel_timespec,
) {
    let at = match field {
        TimespecIn::Addr => &mut sqe.addr,
        TimespecIn::Off => &mut sqe.off,
    };
    assert_ne!(*at, 0, "the SQE points at a timespec");
    // SAFETY: the field of an SQE pushed and not yet consumed holds the
    // address of the timespec the ring keeps for that SQE until the kernel
    // has consumed it (never, here); the ring is alive.
    let ts = unsafe { (*at as *const sys::__kernel_timespec).read() };
    let want = value.into_raw();
    assert_eq!(
        (ts.tv_sec, ts.tv_nsec),
        (want.tv_sec, want.tv_nsec),
        "the timespec the ring keeps"
    );
    *at = ptr(theirs);
}

// ---------------------------------------------------------------------------
// Arguments.
// ---------------------------------------------------------------------------

/// A ring whose SQ slots all hold junk (see [`dirty`]); what a test pushes
/// on it afterwards is never submitted.
fn ring() -> Ring {
    let mut ring = Ring::builder().submit_all().build(8).expect("a ring");
    dirty(&mut ring);
    ring
}

/// Fills every SQ slot of `ring` with 0xa5 bytes and has the kernel consume
/// them: an op pushed afterwards writes over junk, so a byte it leaves
/// alone shows (the SQ array starts out zeroed, like liburing's SQEs).
/// Each junk SQE names an opcode past the last one and an invalid flags
/// byte, which the kernel refuses (`EINVAL`) before reading anything else.
fn dirty(ring: &mut Ring) {
    let mut bytes = [0xa5u8; 64];
    bytes[1] = 0x80;
    assert!(bytes[0] >= sys::IORING_OP_LAST);
    // SAFETY: `io_uring_sqe` is 64 bytes of plain integers without padding:
    // any bytes are a value of it.
    let junk: sys::io_uring_sqe = unsafe { mem::transmute(bytes) };
    let entries = ring.sq_entries();
    let sqes = vec![junk; entries as usize];
    // SAFETY: the kernel fails each of these SQEs on its opcode and flags,
    // before it reads any field that could name memory or a file.
    unsafe { ring.push_raw(&sqes) }.expect("an empty SQ");
    // SUBMIT_ALL: the kernel consumes every SQE, failed or not.
    ring.submit_and_wait(entries).expect("the junk submitted");
    let failed: Vec<i32> = ring.completions().map(|cqe| cqe.res()).collect();
    assert_eq!(failed, vec![-libc::EINVAL; entries as usize]);
    assert_eq!(ring.pending(), 0);
}

/// The address of `value`, as an SQE field holds it.
fn ptr<T: ?Sized>(value: &T) -> u64 {
    value as *const T as *const u8 as u64
}

/// The address of a string, as an SQE field holds it.
fn cstr(s: &CStr) -> u64 {
    s.as_ptr() as u64
}

/// The descriptor number of `file`.
fn fd(file: &impl AsRawFd) -> i32 {
    file.as_raw_fd()
}

/// A `__kernel_timespec`, as a liburing caller passes it.
fn kernel_ts(value: Timespec) -> sys::__kernel_timespec {
    value.into_raw()
}

fn tempfile() -> File {
    tempfile::tempfile().expect("a temporary file")
}

// ---------------------------------------------------------------------------
// What every op carries: user_data, the SQE flags, the personality, links.
// ---------------------------------------------------------------------------

#[test]
fn io_uring_prep_nop() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        fd: -1,
        ..ZERO
    };
    assert_op("io_uring_prep_nop", &mut ring, Nop::new(), theirs);
}

#[test]
fn io_uring_sqe_set_data64() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        fd: -1,
        user_data: 0x0123_4567_89ab_cdef,
        ..ZERO
    };
    let op = Nop::new().user_data(0x0123_4567_89ab_cdef);
    assert_op("io_uring_sqe_set_data64", &mut ring, op, theirs);
}

#[test]
fn io_uring_sqe_set_flags() {
    let mut ring = ring();
    for (flags, bits) in [
        (SqeFlags::IO_DRAIN, sys::IOSQE_IO_DRAIN),
        (SqeFlags::ASYNC, sys::IOSQE_ASYNC),
        (SqeFlags::CQE_SKIP_SUCCESS, sys::IOSQE_CQE_SKIP_SUCCESS),
        (
            SqeFlags::IO_DRAIN | SqeFlags::ASYNC | SqeFlags::CQE_SKIP_SUCCESS,
            sys::IOSQE_IO_DRAIN | sys::IOSQE_ASYNC | sys::IOSQE_CQE_SKIP_SUCCESS,
        ),
    ] {
        let theirs = Sqe {
            opcode: sys::IORING_OP_NOP,
            flags: bits,
            fd: -1,
            ..ZERO
        };
        assert_op(
            "io_uring_sqe_set_flags",
            &mut ring,
            Nop::new().flags(flags),
            theirs,
        );
    }
}

/// liburing has no helper: a caller sets `sqe->personality`.
#[test]
fn sqe_personality() {
    let mut ring = ring();
    let personality = ring.register_personality().expect("a personality");
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        fd: -1,
        personality: personality.id(),
        ..ZERO
    };
    let op = Nop::new().personality(personality);
    assert_op("sqe->personality", &mut ring, op, theirs);
}

/// Every field a caller sets by hand at once, on an op over a fixed file:
/// `user_data`, the caller's flags beside `IOSQE_FIXED_FILE`, the
/// personality.
#[test]
fn io_uring_prep_read_every_common_field() {
    let mut ring = ring();
    let personality = ring.register_personality().expect("a personality");
    let files = ring.register_files_sparse(8).unwrap();
    let mut buf = [0u8; 32];
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ,
        flags: sys::IOSQE_FIXED_FILE | sys::IOSQE_IO_DRAIN | sys::IOSQE_CQE_SKIP_SUCCESS,
        fd: 7,
        off: 99,
        addr: ptr(&buf),
        len: 32,
        user_data: u64::MAX,
        personality: personality.id(),
        ..ZERO
    };
    let op = Read::new(files.get(7).unwrap(), &mut buf[..])
        .offset(99)
        .user_data(u64::MAX)
        .flags(SqeFlags::IO_DRAIN | SqeFlags::CQE_SKIP_SUCCESS)
        .personality(personality);
    assert_op(
        "io_uring_prep_read(7, buf, 32, 99), flags, user_data, personality",
        &mut ring,
        op,
        theirs,
    );
}

/// A chain whose SQEs run past the end of the SQ array and on at its
/// start is written the same as anywhere else.
#[test]
fn io_uring_sqe_set_flags_io_link_across_the_end_of_the_sq() {
    let mut ring = ring();
    let entries = ring.sq_entries();
    for _ in 0..entries - 1 {
        ring.push(Nop::new()).unwrap();
    }
    ring.submit_and_wait(entries - 1).unwrap();
    assert_eq!(ring.completions().count(), (entries - 1) as usize);
    let nop = |user_data, flags| Sqe {
        opcode: sys::IORING_OP_NOP,
        flags,
        fd: -1,
        user_data,
        ..ZERO
    };
    let file = tempfile();
    let buf = *b"across";
    let chain = Nop::new()
        .user_data(1)
        .link(Write::new(&file, &buf).user_data(2))
        .hard_link(Nop::new().user_data(3));
    assert_chain(
        "io_uring_sqe_set_flags(IOSQE_IO_LINK), across the end of the SQ",
        &mut ring,
        chain,
        &[
            nop(1, sys::IOSQE_IO_LINK),
            Sqe {
                opcode: sys::IORING_OP_WRITE,
                flags: sys::IOSQE_IO_HARDLINK,
                fd: fd(&file),
                addr: ptr(&buf),
                len: 6,
                user_data: 2,
                ..ZERO
            },
            nop(3, 0),
        ],
    );
}

/// The same op pushed through a batch (`Ring::submission`) writes the same
/// SQE.
#[test]
fn io_uring_prep_write_in_a_batch() {
    let mut ring = ring();
    let file = tempfile();
    let buf = *b"batched";
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE,
        fd: fd(&file),
        off: 1,
        addr: ptr(&buf),
        len: 7,
        user_data: 5,
        ..ZERO
    };
    let mut batch = ring.submission();
    let op = Write::new(&file, &buf).offset(1).user_data(5);
    // SAFETY: as in `pushed`: the ring is never submitted.
    unsafe { batch.push_unchecked(op) }.expect("room in the SQ");
    drop(batch);
    let ours: Vec<Sqe> = ring.pending_sqes().map(Sqe::from).collect();
    assert_sqes("io_uring_prep_write, in a batch", &ours, &[theirs]);
}

/// The SQEs of a chain carry `IOSQE_IO_LINK` (set with
/// `io_uring_sqe_set_flags`), all but the last, or-ed with their own flags.
#[test]
fn io_uring_sqe_set_flags_io_link() {
    let mut ring = ring();
    let nop = |user_data, flags| Sqe {
        opcode: sys::IORING_OP_NOP,
        flags,
        fd: -1,
        user_data,
        ..ZERO
    };
    let chain = Nop::new()
        .user_data(1)
        .flags(SqeFlags::IO_DRAIN)
        .link(Nop::new().user_data(2))
        .link(Nop::new().user_data(3).flags(SqeFlags::ASYNC));
    assert_chain(
        "io_uring_sqe_set_flags(IOSQE_IO_LINK)",
        &mut ring,
        chain,
        &[
            nop(1, sys::IOSQE_IO_DRAIN | sys::IOSQE_IO_LINK),
            nop(2, sys::IOSQE_IO_LINK),
            nop(3, sys::IOSQE_ASYNC),
        ],
    );
}

#[test]
fn io_uring_sqe_set_flags_io_hardlink() {
    let mut ring = ring();
    let nop = |user_data, flags| Sqe {
        opcode: sys::IORING_OP_NOP,
        flags,
        fd: -1,
        user_data,
        ..ZERO
    };
    // A hard link after a soft one: the second SQE carries the hard link.
    let chain = Nop::new()
        .user_data(1)
        .link(Nop::new().user_data(2))
        .hard_link(Nop::new().user_data(3));
    assert_chain(
        "io_uring_sqe_set_flags(IOSQE_IO_HARDLINK)",
        &mut ring,
        chain,
        &[
            nop(1, sys::IOSQE_IO_LINK),
            nop(2, sys::IOSQE_IO_HARDLINK),
            nop(3, 0),
        ],
    );
}

/// `op.timeout(d)`: the op linked to an `io_uring_prep_link_timeout` SQE.
#[test]
fn io_uring_prep_link_timeout() {
    let mut ring = ring();
    let file = tempfile();
    let mut buf = [0u8; 16];
    let value = Timespec::new(1, 500_000_000);
    let ts = kernel_ts(value);
    let theirs = [
        Sqe {
            opcode: sys::IORING_OP_READ,
            flags: sys::IOSQE_IO_LINK,
            fd: fd(&file),
            addr: ptr(&buf),
            len: 16,
            user_data: 1,
            ..ZERO
        },
        Sqe {
            opcode: sys::IORING_OP_LINK_TIMEOUT,
            fd: -1,
            addr: ptr(&ts),
            len: 1,
            ..ZERO
        },
    ];
    let chain = Read::new(&file, &mut buf[..])
        .user_data(1)
        .timeout(Duration::from_millis(1500));
    let mut ours = pushed(&mut ring, chain);
    ring_owned_timespec(&mut ours[1], TimespecIn::Addr, value, &ts);
    assert_sqes("io_uring_prep_link_timeout", &ours, &theirs);
}

/// A link timeout with flags and a `user_data` (`op.link_timeout(..)` and
/// `op.timeout_with(..)`), and a chain that goes on after one: the link
/// timeout then carries `IOSQE_IO_LINK` itself.
#[test]
fn io_uring_prep_link_timeout_flags() {
    let mut ring = ring();
    let value = Timespec::new(7, 9);
    let ts = kernel_ts(value);
    let nop = |user_data, flags| Sqe {
        opcode: sys::IORING_OP_NOP,
        flags,
        fd: -1,
        user_data,
        ..ZERO
    };
    let link_timeout = |user_data, flags, timeout_flags| Sqe {
        opcode: sys::IORING_OP_LINK_TIMEOUT,
        flags,
        fd: -1,
        addr: ptr(&ts),
        len: 1,
        op_flags: timeout_flags,
        user_data,
        ..ZERO
    };

    let chain = Nop::new().user_data(1).link_timeout(
        LinkTimeout::new(value)
            .timeout_flags(TimeoutFlags::ABS | TimeoutFlags::REALTIME)
            .user_data(9),
    );
    let mut ours = pushed(&mut ring, chain);
    ring_owned_timespec(&mut ours[1], TimespecIn::Addr, value, &ts);
    assert_sqes(
        "io_uring_prep_link_timeout(ts, IORING_TIMEOUT_ABS | IORING_TIMEOUT_REALTIME)",
        &ours,
        &[
            nop(1, sys::IOSQE_IO_LINK),
            link_timeout(9, 0, sys::IORING_TIMEOUT_ABS | sys::IORING_TIMEOUT_REALTIME),
        ],
    );

    let chain = Nop::new()
        .user_data(2)
        .timeout_with(value, 8)
        .link(Nop::new().user_data(3));
    let mut ours = pushed(&mut ring, chain);
    ring_owned_timespec(&mut ours[1], TimespecIn::Addr, value, &ts);
    assert_sqes(
        "io_uring_prep_link_timeout(ts, 0), linked on",
        &ours,
        &[
            nop(2, sys::IOSQE_IO_LINK),
            link_timeout(8, sys::IOSQE_IO_LINK, 0),
            nop(3, 0),
        ],
    );
}

// ---------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------

#[test]
fn io_uring_prep_read() {
    let mut ring = ring();
    let file = tempfile();
    let mut buf = [0u8; 16];
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ,
        fd: fd(&file),
        addr: ptr(&buf),
        len: 16,
        ..ZERO
    };
    let op = Read::new(&file, &mut buf[..]);
    assert_op("io_uring_prep_read(fd, buf, 16, 0)", &mut ring, op, theirs);
    let theirs = Sqe { off: 7, ..theirs };
    let op = Read::new(&file, &mut buf[..]).offset(7);
    assert_op("io_uring_prep_read(fd, buf, 16, 7)", &mut ring, op, theirs);
}

/// `io_uring_prep_read`, then `sqe->rw_flags` and `sqe->ioprio` by hand.
#[test]
fn io_uring_prep_read_rw_flags_ioprio() {
    let mut ring = ring();
    let file = tempfile();
    let mut buf = [0u8; 16];
    let ioprio = (2 << 13) | 4;
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ,
        ioprio,
        fd: fd(&file),
        off: u64::MAX,
        addr: ptr(&buf),
        len: 16,
        op_flags: (libc::RWF_NOWAIT | libc::RWF_HIPRI) as u32,
        ..ZERO
    };
    let op = Read::new(&file, &mut buf[..])
        .offset(u64::MAX)
        .rw_flags(RwFlags::NOWAIT | RwFlags::HIPRI)
        .ioprio(ioprio);
    assert_op(
        "io_uring_prep_read, rw_flags, ioprio",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_read` on a fixed file's index, with `IOSQE_FIXED_FILE`
/// (and the caller's flags) set by `io_uring_sqe_set_flags`.
#[test]
fn io_uring_prep_read_fixed_file() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let mut buf = [0u8; 16];
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ,
        flags: sys::IOSQE_FIXED_FILE | sys::IOSQE_ASYNC,
        fd: 3,
        off: 64,
        addr: ptr(&buf),
        len: 16,
        ..ZERO
    };
    let op = Read::new(files.get(3).unwrap(), &mut buf[..])
        .offset(64)
        .flags(SqeFlags::ASYNC);
    assert_op("io_uring_prep_read(3, ..), fixed", &mut ring, op, theirs);
}

/// `io_uring_prep_read(fd, NULL, len, off)`, then `IOSQE_BUFFER_SELECT` and
/// `sqe->buf_group`.
#[test]
fn io_uring_prep_read_buffer_select() {
    let mut ring = ring();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ,
        flags: sys::IOSQE_BUFFER_SELECT,
        fd: fd(&file),
        off: u64::MAX,
        len: 64,
        buf_index: 7,
        ..ZERO
    };
    let op = Read::new(&file, BufferGroup::new(7).select(64)).offset(u64::MAX);
    assert_op("io_uring_prep_read, buffer select", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_write() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let buf = *b"0123456789";
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE,
        fd: fd(&file),
        off: 3,
        addr: ptr(&buf),
        len: 10,
        ..ZERO
    };
    let op = Write::new(&file, &buf).offset(3);
    assert_op("io_uring_prep_write", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 5,
        ..theirs
    };
    let op = Write::new(files.get(5).unwrap(), &buf).offset(3);
    assert_op("io_uring_prep_write, fixed", &mut ring, op, theirs);
}

/// `io_uring_prep_write`, then `sqe->rw_flags` and `sqe->ioprio` by hand.
#[test]
fn io_uring_prep_write_rw_flags_ioprio() {
    let mut ring = ring();
    let file = tempfile();
    let buf = *b"0123456789";
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE,
        ioprio: 3 << 13,
        fd: fd(&file),
        addr: ptr(&buf),
        len: 10,
        op_flags: (libc::RWF_DSYNC | libc::RWF_APPEND) as u32,
        ..ZERO
    };
    let op = Write::new(&file, &buf)
        .rw_flags(RwFlags::DSYNC | RwFlags::APPEND)
        .ioprio(3 << 13);
    assert_op(
        "io_uring_prep_write, rw_flags, ioprio",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_readv2() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let (mut a, mut b) = ([0u8; 4], [0u8; 8]);
    let mut iovecs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
    let at = ptr(&iovecs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_READV,
        ioprio: 1 << 13,
        fd: fd(&file),
        off: 9,
        addr: at,
        len: 2,
        op_flags: libc::RWF_NOWAIT as u32,
        ..ZERO
    };
    let op = ReadV::new(&file, &mut iovecs[..])
        .offset(9)
        .rw_flags(RwFlags::NOWAIT)
        .ioprio(1 << 13);
    assert_op("io_uring_prep_readv2 (+ ioprio)", &mut ring, op, theirs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_READV,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        addr: at,
        len: 2,
        ..ZERO
    };
    let op = ReadV::new(files.get(2).unwrap(), &mut iovecs[..]);
    assert_op("io_uring_prep_readv, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_writev2() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let iovecs = [IoSlice::new(b"ab"), IoSlice::new(b"cde")];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITEV,
        ioprio: 1 << 13,
        fd: fd(&file),
        off: 9,
        addr: ptr(&iovecs),
        len: 2,
        op_flags: libc::RWF_SYNC as u32,
        ..ZERO
    };
    let op = WriteV::new(&file, &iovecs[..])
        .offset(9)
        .rw_flags(RwFlags::SYNC)
        .ioprio(1 << 13);
    assert_op("io_uring_prep_writev2 (+ ioprio)", &mut ring, op, theirs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITEV,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        addr: ptr(&iovecs),
        len: 2,
        ..ZERO
    };
    let op = WriteV::new(files.get(2).unwrap(), &iovecs[..]);
    assert_op("io_uring_prep_writev, fixed", &mut ring, op, theirs);
}

/// Two registered buffers of 2048 bytes each, in `region`.
///
/// # Safety
///
/// `region` must outlive the ring (and no op over it be submitted).
unsafe fn register_two_buffers(ring: &mut Ring, region: &mut [u8; 4096]) -> uring::FixedBuffers {
    let (a, b) = region.split_at_mut(2048);
    // SAFETY: the caller keeps `region` alive for as long as the ring.
    unsafe { ring.register_buffers(&[IoSliceMut::new(a), IoSliceMut::new(b)]) }
        .expect("registered buffers")
}

#[test]
fn io_uring_prep_read_fixed() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let buf = &mut region[2048 + 16..2048 + 80];
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ_FIXED,
        fd: fd(&file),
        off: 512,
        addr: ptr(&buf[0]),
        len: 64,
        buf_index: 1,
        ..ZERO
    };
    let op = ReadFixed::new(&file, &mut buf[..], bufs.get(1).unwrap()).offset(512);
    assert_op("io_uring_prep_read_fixed", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: 2 << 13,
        fd: 4,
        op_flags: libc::RWF_HIPRI as u32,
        ..theirs
    };
    let op = ReadFixed::new(files.get(4).unwrap(), &mut buf[..], bufs.get(1).unwrap())
        .offset(512)
        .rw_flags(RwFlags::HIPRI)
        .ioprio(2 << 13);
    assert_op(
        "io_uring_prep_read_fixed, fixed file, rw_flags, ioprio",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_write_fixed() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let buf = &region[100..200];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE_FIXED,
        fd: fd(&file),
        off: 4096,
        addr: ptr(&buf[0]),
        len: 100,
        buf_index: 0,
        ..ZERO
    };
    let op = WriteFixed::new(&file, buf, bufs.get(0).unwrap()).offset(4096);
    assert_op("io_uring_prep_write_fixed", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: 1,
        fd: 4,
        op_flags: libc::RWF_DSYNC as u32,
        ..theirs
    };
    let op = WriteFixed::new(files.get(4).unwrap(), buf, bufs.get(0).unwrap())
        .offset(4096)
        .rw_flags(RwFlags::DSYNC)
        .ioprio(1);
    assert_op(
        "io_uring_prep_write_fixed, fixed file, rw_flags, ioprio",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_readv_fixed() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let (a, rest) = region[2048..].split_at_mut(16);
    let mut iovecs = [IoSliceMut::new(a), IoSliceMut::new(&mut rest[..32])];
    let theirs = Sqe {
        opcode: sys::IORING_OP_READV_FIXED,
        fd: fd(&file),
        off: 77,
        addr: ptr(&iovecs),
        len: 2,
        op_flags: libc::RWF_NOWAIT as u32,
        buf_index: 1,
        ..ZERO
    };
    let op = ReadVFixed::new(&file, &mut iovecs[..], bufs.get(1).unwrap())
        .offset(77)
        .rw_flags(RwFlags::NOWAIT);
    assert_op("io_uring_prep_readv_fixed", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 6,
        off: 0,
        op_flags: 0,
        ..theirs
    };
    let op = ReadVFixed::new(files.get(6).unwrap(), &mut iovecs[..], bufs.get(1).unwrap());
    assert_op(
        "io_uring_prep_readv_fixed, fixed file",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_writev_fixed() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let iovecs = [IoSlice::new(&region[..16]), IoSlice::new(&region[64..96])];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITEV_FIXED,
        fd: fd(&file),
        off: 77,
        addr: ptr(&iovecs),
        len: 2,
        op_flags: libc::RWF_DSYNC as u32,
        buf_index: 0,
        ..ZERO
    };
    let op = WriteVFixed::new(&file, &iovecs[..], bufs.get(0).unwrap())
        .offset(77)
        .rw_flags(RwFlags::DSYNC);
    assert_op("io_uring_prep_writev_fixed", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 6,
        off: 0,
        op_flags: 0,
        ..theirs
    };
    let op = WriteVFixed::new(files.get(6).unwrap(), &iovecs[..], bufs.get(0).unwrap());
    assert_op(
        "io_uring_prep_writev_fixed, fixed file",
        &mut ring,
        op,
        theirs,
    );
}

/// liburing has no helper for a write stream (6.16): its helper, then
/// `sqe->write_stream` by hand, the first byte of the word `file_index`
/// names (the rest is `__pad4`, zero). On every kind of write; the
/// vectored fixed forms take an I/O priority too, as every read and write
/// does.
#[test]
fn io_uring_prep_writes_with_write_stream() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let file = tempfile();
    let buf = *b"0123456789";
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE,
        fd: fd(&file),
        addr: ptr(&buf),
        len: 10,
        file_index: 7,
        ..ZERO
    };
    let op = Write::new(&file, &buf).write_stream(7);
    assert_op("io_uring_prep_write, write_stream 7", &mut ring, op, theirs);
    let op = Write::new(&file, &buf).write_stream(u8::MAX);
    let theirs = Sqe {
        file_index: 0xff,
        ..theirs
    };
    assert_op(
        "io_uring_prep_write, write_stream 255",
        &mut ring,
        op,
        theirs,
    );
    let iovecs = [IoSlice::new(b"ab"), IoSlice::new(b"cde")];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITEV,
        fd: fd(&file),
        addr: ptr(&iovecs),
        len: 2,
        file_index: 1,
        ..ZERO
    };
    let op = WriteV::new(&file, &iovecs[..]).write_stream(1);
    assert_op(
        "io_uring_prep_writev, write_stream 1",
        &mut ring,
        op,
        theirs,
    );
    let fixed = &region[100..200];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE_FIXED,
        fd: fd(&file),
        addr: ptr(&fixed[0]),
        len: 100,
        file_index: 2,
        ..ZERO
    };
    let op = WriteFixed::new(&file, fixed, bufs.get(0).unwrap()).write_stream(2);
    assert_op(
        "io_uring_prep_write_fixed, write_stream 2",
        &mut ring,
        op,
        theirs,
    );
    let iovecs = [IoSlice::new(&region[..16]), IoSlice::new(&region[64..96])];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITEV_FIXED,
        ioprio: 2 << 13,
        fd: fd(&file),
        addr: ptr(&iovecs),
        len: 2,
        file_index: 3,
        ..ZERO
    };
    let op = WriteVFixed::new(&file, &iovecs[..], bufs.get(0).unwrap())
        .write_stream(3)
        .ioprio(2 << 13);
    assert_op(
        "io_uring_prep_writev_fixed, write_stream 3, ioprio",
        &mut ring,
        op,
        theirs,
    );
}

/// liburing has no helper for protection information (6.13): a read's or
/// write's helper, then `sqe->attr_ptr` (the bytes of `addr3`) at the
/// `struct io_uring_attr_pi` and `sqe->attr_type_mask` (those of
/// `__pad2`) `IORING_RW_ATTR_FLAG_PI`, as liburing's users write them. The
/// attribute holds the metadata buffer's address and length, its checks,
/// application tag and seed, and a zero `rsvd`.
#[test]
fn io_uring_prep_reads_and_writes_with_protection_information() {
    use uring::{IntegrityFlags, PiAttr};
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let file = tempfile();
    let mut meta = [0u8; 24];
    let meta_at = ptr(&meta);
    let mut attr = PiAttr::new(&mut meta)
        .flags(IntegrityFlags::GUARD | IntegrityFlags::APPTAG)
        .app_tag(0xbeef)
        .seed(77);
    let raw = *attr.raw();
    assert_eq!(
        (
            raw.flags,
            raw.app_tag,
            raw.len,
            raw.addr,
            raw.seed,
            raw.rsvd
        ),
        (
            sys::IO_INTEGRITY_CHK_GUARD | sys::IO_INTEGRITY_CHK_APPTAG,
            0xbeef,
            24,
            meta_at,
            77,
            0
        )
    );
    let attr_at = attr.raw() as *const sys::io_uring_attr_pi as u64;
    let mut data = [0u8; 10];
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ,
        fd: fd(&file),
        off: 8,
        addr: ptr(&data),
        len: 10,
        addr3: attr_at,
        pad2: sys::IORING_RW_ATTR_FLAG_PI,
        ..ZERO
    };
    let op = Read::new(&file, &mut data[..]).offset(8).pi(&mut attr);
    assert_op("io_uring_prep_read, attr_pi", &mut ring, op, theirs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE,
        addr: ptr(&data),
        ..theirs
    };
    let op = Write::new(&file, &data[..]).offset(8).pi(&mut attr);
    assert_op("io_uring_prep_write, attr_pi", &mut ring, op, theirs);
    let fixed = &region[..512];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITE_FIXED,
        off: 0,
        addr: ptr(&fixed[0]),
        len: 512,
        ..theirs
    };
    let op = WriteFixed::new(&file, fixed, bufs.get(0).unwrap()).pi(&mut attr);
    assert_op("io_uring_prep_write_fixed, attr_pi", &mut ring, op, theirs);
    let iovecs = [IoSlice::new(b"ab")];
    let theirs = Sqe {
        opcode: sys::IORING_OP_WRITEV,
        addr: ptr(&iovecs),
        len: 1,
        ..theirs
    };
    let op = WriteV::new(&file, &iovecs[..]).pi(&mut attr);
    assert_op("io_uring_prep_writev, attr_pi", &mut ring, op, theirs);
    // `PiRef::NONE`, the default, writes neither field.
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ,
        fd: fd(&file),
        addr: ptr(&data),
        len: 10,
        ..ZERO
    };
    let op = Read::new(&file, &mut data[..]).pi(uring::PiRef::NONE);
    assert_op("io_uring_prep_read, no attribute", &mut ring, op, theirs);
}

/// `io_uring_prep_readv_fixed`, then `sqe->ioprio` by hand.
#[test]
fn io_uring_prep_readv_fixed_ioprio() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let file = tempfile();
    let (a, rest) = region[2048..].split_at_mut(16);
    let mut iovecs = [IoSliceMut::new(a), IoSliceMut::new(&mut rest[..32])];
    let theirs = Sqe {
        opcode: sys::IORING_OP_READV_FIXED,
        ioprio: 3 << 13,
        fd: fd(&file),
        addr: ptr(&iovecs),
        len: 2,
        buf_index: 1,
        ..ZERO
    };
    let op = ReadVFixed::new(&file, &mut iovecs[..], bufs.get(1).unwrap()).ioprio(3 << 13);
    assert_op("io_uring_prep_readv_fixed, ioprio", &mut ring, op, theirs);
}

/// `io_uring_prep_read_multishot(fd, 0, off, group)`: the op takes the
/// group's whole buffers (no `nbytes`).
#[test]
fn io_uring_prep_read_multishot() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let (rx, _tx) = uring_tests::pipe();
    let theirs = Sqe {
        opcode: sys::IORING_OP_READ_MULTISHOT,
        flags: sys::IOSQE_BUFFER_SELECT,
        fd: fd(&rx),
        buf_index: 7,
        ..ZERO
    };
    let op = ReadMultishot::new(&rx, BufferGroup::new(7));
    assert_op("io_uring_prep_read_multishot", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_BUFFER_SELECT | sys::IOSQE_FIXED_FILE,
        fd: 1,
        off: 5,
        ..theirs
    };
    let op = ReadMultishot::new(files.get(1).unwrap(), BufferGroup::new(7)).offset(5);
    assert_op("io_uring_prep_read_multishot, fixed", &mut ring, op, theirs);
}

/// `io_uring_prep_fsync`; a range is set by hand in `sqe->off` and
/// `sqe->len`.
#[test]
fn io_uring_prep_fsync() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_FSYNC,
        fd: fd(&file),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_fsync(fd, 0)",
        &mut ring,
        Fsync::new(&file),
        theirs,
    );
    let theirs = Sqe {
        op_flags: sys::IORING_FSYNC_DATASYNC,
        off: 4096,
        len: 512,
        ..theirs
    };
    let op = Fsync::new(&file)
        .fsync_flags(FsyncFlags::DATASYNC)
        .offset(4096)
        .len(512);
    assert_op(
        "io_uring_prep_fsync(fd, IORING_FSYNC_DATASYNC), off, len",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        opcode: sys::IORING_OP_FSYNC,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..ZERO
    };
    let op = Fsync::new(files.get(2).unwrap());
    assert_op("io_uring_prep_fsync, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_sync_file_range() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SYNC_FILE_RANGE,
        fd: fd(&file),
        off: 512,
        len: 4096,
        op_flags: libc::SYNC_FILE_RANGE_WRITE,
        ..ZERO
    };
    let op = SyncFileRange::new(&file)
        .offset(512)
        .len(4096)
        .sync_range_flags(libc::SYNC_FILE_RANGE_WRITE);
    assert_op("io_uring_prep_sync_file_range", &mut ring, op, theirs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_SYNC_FILE_RANGE,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..ZERO
    };
    let op = SyncFileRange::new(files.get(2).unwrap());
    assert_op(
        "io_uring_prep_sync_file_range, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_fallocate() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_FALLOCATE,
        fd: fd(&file),
        off: 512,
        addr: 8192,
        len: libc::FALLOC_FL_KEEP_SIZE as u32,
        ..ZERO
    };
    let op = Fallocate::new(&file, 8192)
        .offset(512)
        .mode(libc::FALLOC_FL_KEEP_SIZE);
    assert_op("io_uring_prep_fallocate", &mut ring, op, theirs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_FALLOCATE,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        addr: 1 << 20,
        ..ZERO
    };
    let op = Fallocate::new(files.get(2).unwrap(), 1 << 20);
    assert_op("io_uring_prep_fallocate, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_fadvise() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_FADVISE,
        fd: fd(&file),
        off: 512,
        len: 4096,
        op_flags: libc::POSIX_FADV_DONTNEED as u32,
        ..ZERO
    };
    let op = Fadvise::new(&file, libc::POSIX_FADV_DONTNEED)
        .offset(512)
        .len(4096);
    assert_op("io_uring_prep_fadvise", &mut ring, op, theirs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_FADVISE,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        op_flags: libc::POSIX_FADV_SEQUENTIAL as u32,
        ..ZERO
    };
    let op = Fadvise::new(files.get(2).unwrap(), libc::POSIX_FADV_SEQUENTIAL);
    assert_op("io_uring_prep_fadvise, fixed", &mut ring, op, theirs);
}

/// A length beyond 32 bits goes to `addr`, as `io_uring_prep_fadvise64`
/// writes it.
#[test]
fn io_uring_prep_fadvise64() {
    let mut ring = ring();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_FADVISE,
        fd: fd(&file),
        off: 512,
        addr: 5 << 32,
        op_flags: libc::POSIX_FADV_WILLNEED as u32,
        ..ZERO
    };
    let op = Fadvise::new(&file, libc::POSIX_FADV_WILLNEED)
        .offset(512)
        .len(5 << 32);
    assert_op("io_uring_prep_fadvise64", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_ftruncate() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_FTRUNCATE,
        fd: fd(&file),
        off: 12345,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_ftruncate",
        &mut ring,
        Ftruncate::new(&file, 12345),
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..theirs
    };
    let op = Ftruncate::new(files.get(2).unwrap(), 12345);
    assert_op("io_uring_prep_ftruncate, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_splice() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let (rx, tx) = uring_tests::pipe();
    // Defaults: both offsets -1 (the file position, or a pipe).
    let theirs = Sqe {
        opcode: sys::IORING_OP_SPLICE,
        fd: fd(&tx),
        off: u64::MAX,
        addr: u64::MAX,
        len: 1024,
        file_index: fd(&file) as u32,
        ..ZERO
    };
    let op = Splice::new(&tx, &file, 1024);
    assert_op(
        "io_uring_prep_splice(file, -1, pipe, -1, 1024, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        fd: fd(&file),
        off: 200,
        addr: 100,
        file_index: fd(&rx) as u32,
        op_flags: 1 | 2,
        ..theirs
    };
    let op = Splice::new(&file, &rx, 1024)
        .offset_in(100)
        .offset_out(200)
        .splice_flags(SpliceFlags::MOVE | SpliceFlags::NONBLOCK);
    assert_op(
        "io_uring_prep_splice(pipe, 100, file, 200, 1024, MOVE | NONBLOCK)",
        &mut ring,
        op,
        theirs,
    );
    // A fixed input: its index, with SPLICE_F_FD_IN_FIXED.
    let theirs = Sqe {
        opcode: sys::IORING_OP_SPLICE,
        fd: fd(&tx),
        off: u64::MAX,
        addr: u64::MAX,
        len: 1024,
        op_flags: sys::SPLICE_F_FD_IN_FIXED | 4,
        file_index: 3,
        ..ZERO
    };
    let op = Splice::new(&tx, files.get(3).unwrap(), 1024).splice_flags(SpliceFlags::MORE);
    assert_op(
        "io_uring_prep_splice(3, -1, pipe, -1, 1024, SPLICE_F_FD_IN_FIXED | MORE)",
        &mut ring,
        op,
        theirs,
    );
    // A fixed output: its index, with IOSQE_FIXED_FILE.
    let theirs = Sqe {
        opcode: sys::IORING_OP_SPLICE,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 4,
        off: u64::MAX,
        addr: u64::MAX,
        len: 1024,
        file_index: fd(&rx) as u32,
        ..ZERO
    };
    let op = Splice::new(files.get(4).unwrap(), &rx, 1024);
    assert_op("io_uring_prep_splice, fixed output", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_tee() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let (rx, _) = uring_tests::pipe();
    let (_, tx) = uring_tests::pipe();
    let theirs = Sqe {
        opcode: sys::IORING_OP_TEE,
        fd: fd(&tx),
        len: 1024,
        op_flags: 2,
        file_index: fd(&rx) as u32,
        ..ZERO
    };
    let op = Tee::new(&tx, &rx, 1024).splice_flags(SpliceFlags::NONBLOCK);
    assert_op("io_uring_prep_tee", &mut ring, op, theirs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_TEE,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 4,
        len: 1024,
        op_flags: sys::SPLICE_F_FD_IN_FIXED,
        file_index: 3,
        ..ZERO
    };
    let op = Tee::new(files.get(4).unwrap(), files.get(3).unwrap(), 1024);
    assert_op("io_uring_prep_tee, fixed both", &mut ring, op, theirs);
}

// ---------------------------------------------------------------------------
// Paths.
// ---------------------------------------------------------------------------

/// An open directory, to be the `dirfd` of the path ops.
fn dir() -> File {
    File::open(std::env::temp_dir()).expect("the temporary directory")
}

const AT_FDCWD: i32 = libc::AT_FDCWD;

#[test]
fn io_uring_prep_openat() {
    let mut ring = ring();
    let dir = dir();
    let path = c"some/file";
    let theirs = Sqe {
        opcode: sys::IORING_OP_OPENAT,
        fd: AT_FDCWD,
        addr: cstr(path),
        op_flags: libc::O_CLOEXEC as u32,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_openat(AT_FDCWD, path, O_CLOEXEC, 0)",
        &mut ring,
        OpenAt::new(Fd::CWD, path),
        theirs,
    );
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
    let theirs = Sqe {
        opcode: sys::IORING_OP_OPENAT,
        fd: fd(&dir),
        addr: cstr(path),
        len: 0o640,
        op_flags: flags as u32,
        ..ZERO
    };
    let op = OpenAt::new(&dir, path).open_flags(flags).mode(0o640);
    assert_op(
        "io_uring_prep_openat(dir, path, O_CREAT | O_WRONLY | O_TRUNC, 0640)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_openat_direct() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(8).unwrap();
    let path = c"some/file";
    let theirs = Sqe {
        opcode: sys::IORING_OP_OPENAT,
        fd: AT_FDCWD,
        addr: cstr(path),
        file_index: sys::IORING_FILE_INDEX_ALLOC,
        ..ZERO
    };
    let op = OpenAt::new(Fd::CWD, path)
        .open_flags(0)
        .direct(DirectSlot::ALLOC);
    assert_op(
        "io_uring_prep_openat_direct(.., IORING_FILE_INDEX_ALLOC)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        file_index: 2 + 1,
        ..theirs
    };
    let op = OpenAt::new(Fd::CWD, path)
        .open_flags(0)
        .direct(DirectSlot::at(files.get_mut(2).unwrap()));
    assert_op("io_uring_prep_openat_direct(.., 2)", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_openat2() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(8).unwrap();
    let dir = dir();
    let path = c"some/file";
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { mem::zeroed() };
    how.flags = libc::O_RDONLY as u64;
    how.resolve = libc::RESOLVE_BENEATH;
    let theirs = Sqe {
        opcode: sys::IORING_OP_OPENAT2,
        fd: fd(&dir),
        off: ptr(&how),
        addr: cstr(path),
        len: mem::size_of::<libc::open_how>() as u32,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_openat2",
        &mut ring,
        OpenAt2::new(&dir, path, &how),
        theirs,
    );
    let theirs = Sqe {
        file_index: sys::IORING_FILE_INDEX_ALLOC,
        ..theirs
    };
    let op = OpenAt2::new(&dir, path, &how).direct(DirectSlot::ALLOC);
    assert_op(
        "io_uring_prep_openat2_direct(.., IORING_FILE_INDEX_ALLOC)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        file_index: 5 + 1,
        ..theirs
    };
    let op = OpenAt2::new(&dir, path, &how).direct(DirectSlot::at(files.get_mut(5).unwrap()));
    assert_op("io_uring_prep_openat2_direct(.., 5)", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_statx() {
    let mut ring = ring();
    let dir = dir();
    let path = c"some/file";
    // SAFETY: all-zero bytes are a valid `statx`.
    let mut st: libc::statx = unsafe { mem::zeroed() };
    let theirs = Sqe {
        opcode: sys::IORING_OP_STATX,
        fd: AT_FDCWD,
        off: ptr(&st),
        addr: cstr(path),
        len: libc::STATX_BASIC_STATS,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &st)",
        &mut ring,
        Statx::new(Fd::CWD, path, &mut st),
        theirs,
    );
    let theirs = Sqe {
        fd: fd(&dir),
        len: libc::STATX_SIZE | libc::STATX_MTIME,
        op_flags: libc::AT_SYMLINK_NOFOLLOW as u32,
        ..theirs
    };
    let op = Statx::new(&dir, path, &mut st)
        .statx_flags(libc::AT_SYMLINK_NOFOLLOW)
        .mask(libc::STATX_SIZE | libc::STATX_MTIME);
    assert_op(
        "io_uring_prep_statx(dir, path, AT_SYMLINK_NOFOLLOW, STATX_SIZE | STATX_MTIME, &st)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_renameat() {
    let mut ring = ring();
    let (old_dir, new_dir) = (dir(), dir());
    let (old, new) = (c"old", c"new");
    let theirs = Sqe {
        opcode: sys::IORING_OP_RENAMEAT,
        fd: fd(&old_dir),
        off: cstr(new),
        addr: cstr(old),
        len: fd(&new_dir) as u32,
        op_flags: libc::RENAME_NOREPLACE,
        ..ZERO
    };
    let op = RenameAt::new(&old_dir, old, &new_dir, new).rename_flags(libc::RENAME_NOREPLACE);
    assert_op("io_uring_prep_renameat", &mut ring, op, theirs);
    // io_uring_prep_rename: both directories AT_FDCWD.
    let theirs = Sqe {
        opcode: sys::IORING_OP_RENAMEAT,
        fd: AT_FDCWD,
        off: cstr(new),
        addr: cstr(old),
        len: AT_FDCWD as u32,
        ..ZERO
    };
    let op = RenameAt::new(Fd::CWD, old, Fd::CWD, new);
    assert_op("io_uring_prep_rename", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_unlinkat() {
    let mut ring = ring();
    let dir = dir();
    let path = c"gone";
    let theirs = Sqe {
        opcode: sys::IORING_OP_UNLINKAT,
        fd: fd(&dir),
        addr: cstr(path),
        op_flags: libc::AT_REMOVEDIR as u32,
        ..ZERO
    };
    let op = UnlinkAt::new(&dir, path).unlink_flags(libc::AT_REMOVEDIR);
    assert_op("io_uring_prep_unlinkat", &mut ring, op, theirs);
    let theirs = Sqe {
        fd: AT_FDCWD,
        op_flags: 0,
        ..theirs
    };
    let op = UnlinkAt::new(Fd::CWD, path);
    assert_op("io_uring_prep_unlink", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_mkdirat() {
    let mut ring = ring();
    let dir = dir();
    let path = c"new-dir";
    let theirs = Sqe {
        opcode: sys::IORING_OP_MKDIRAT,
        fd: fd(&dir),
        addr: cstr(path),
        len: 0o777,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_mkdirat(dir, path, 0777)",
        &mut ring,
        MkdirAt::new(&dir, path),
        theirs,
    );
    let theirs = Sqe {
        fd: AT_FDCWD,
        len: 0o750,
        ..theirs
    };
    let op = MkdirAt::new(Fd::CWD, path).mode(0o750);
    assert_op("io_uring_prep_mkdir(path, 0750)", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_symlinkat() {
    let mut ring = ring();
    let dir = dir();
    let (target, link) = (c"target", c"link");
    let theirs = Sqe {
        opcode: sys::IORING_OP_SYMLINKAT,
        fd: fd(&dir),
        off: cstr(link),
        addr: cstr(target),
        ..ZERO
    };
    let op = SymlinkAt::new(&dir, target, link);
    assert_op("io_uring_prep_symlinkat", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_linkat() {
    let mut ring = ring();
    let (old_dir, new_dir) = (dir(), dir());
    let (old, new) = (c"old", c"new");
    let theirs = Sqe {
        opcode: sys::IORING_OP_LINKAT,
        fd: fd(&old_dir),
        off: cstr(new),
        addr: cstr(old),
        len: fd(&new_dir) as u32,
        op_flags: libc::AT_SYMLINK_FOLLOW as u32,
        ..ZERO
    };
    let op = LinkAt::new(&old_dir, old, &new_dir, new).hardlink_flags(libc::AT_SYMLINK_FOLLOW);
    assert_op("io_uring_prep_linkat", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_setxattr() {
    let mut ring = ring();
    let (path, name, value) = (c"/some/file", c"user.k", b"value");
    let theirs = Sqe {
        opcode: sys::IORING_OP_SETXATTR,
        off: ptr(value),
        addr: cstr(name),
        len: 5,
        op_flags: libc::XATTR_CREATE as u32,
        addr3: cstr(path),
        ..ZERO
    };
    let op = SetXattr::new(path, name, value).xattr_flags(libc::XATTR_CREATE);
    assert_op("io_uring_prep_setxattr", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_getxattr() {
    let mut ring = ring();
    let (path, name) = (c"/some/file", c"user.k");
    let mut value = [0u8; 32];
    let theirs = Sqe {
        opcode: sys::IORING_OP_GETXATTR,
        off: ptr(&value),
        addr: cstr(name),
        len: 32,
        addr3: cstr(path),
        ..ZERO
    };
    let op = GetXattr::new(path, name, &mut value[..]);
    assert_op("io_uring_prep_getxattr", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_fsetxattr() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let (name, value) = (c"user.k", b"value");
    let theirs = Sqe {
        opcode: sys::IORING_OP_FSETXATTR,
        fd: fd(&file),
        off: ptr(value),
        addr: cstr(name),
        len: 5,
        op_flags: libc::XATTR_REPLACE as u32,
        ..ZERO
    };
    let op = FSetXattr::new(&file, name, value).xattr_flags(libc::XATTR_REPLACE);
    assert_op("io_uring_prep_fsetxattr", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 1,
        op_flags: 0,
        ..theirs
    };
    let op = FSetXattr::new(files.get(1).unwrap(), name, value);
    assert_op("io_uring_prep_fsetxattr, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_fgetxattr() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let name = c"user.k";
    let mut value = [0u8; 32];
    let theirs = Sqe {
        opcode: sys::IORING_OP_FGETXATTR,
        fd: fd(&file),
        off: ptr(&value),
        addr: cstr(name),
        len: 32,
        ..ZERO
    };
    let op = FGetXattr::new(&file, name, &mut value[..]);
    assert_op("io_uring_prep_fgetxattr", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 1,
        ..theirs
    };
    let op = FGetXattr::new(files.get(1).unwrap(), name, &mut value[..]);
    assert_op("io_uring_prep_fgetxattr, fixed", &mut ring, op, theirs);
}

// ---------------------------------------------------------------------------
// Descriptors.
// ---------------------------------------------------------------------------

#[test]
fn io_uring_prep_close() {
    let mut ring = ring();
    let file: OwnedFd = tempfile().into();
    let raw: RawFd = file.as_raw_fd();
    let theirs = Sqe {
        opcode: sys::IORING_OP_CLOSE,
        fd: raw,
        ..ZERO
    };
    assert_op("io_uring_prep_close", &mut ring, Close::new(file), theirs);
    // The op owned the descriptor and is never submitted: close it here.
    // SAFETY: the op released `raw` from its owner and nothing else closes
    // it (the SQE naming it is never submitted).
    drop(unsafe { OwnedFd::from_raw_fd(raw) });
}

#[test]
fn io_uring_prep_close_direct() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(8).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_CLOSE,
        file_index: 6 + 1,
        ..ZERO
    };
    let op = Close::new(files.get_mut(6).unwrap());
    assert_op("io_uring_prep_close_direct(sqe, 6)", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_files_update() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(8).unwrap();
    let (a, b) = (tempfile(), tempfile());
    let mut updates = FileUpdates::new(&[Some(a.as_fd()), None, Some(b.as_fd())]);
    let at = ptr(updates.slots());
    // The slot is an `int`, sign-extended into `off`.
    let theirs = Sqe {
        opcode: sys::IORING_OP_FILES_UPDATE,
        fd: -1,
        off: sys::IORING_FILE_INDEX_ALLOC as i32 as i64 as u64,
        addr: at,
        len: 3,
        ..ZERO
    };
    let op = FilesUpdate::new(&mut updates, FilesAt::ALLOC);
    assert_op(
        "io_uring_prep_files_update(sqe, fds, 3, IORING_FILE_INDEX_ALLOC)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe { off: 4, ..theirs };
    let op = FilesUpdate::new(&mut updates, FilesAt::from(files.get_mut(4).unwrap()));
    assert_op(
        "io_uring_prep_files_update(sqe, fds, 3, 4)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_fixed_fd_install() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_FIXED_FD_INSTALL,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 3,
        ..ZERO
    };
    let op = FixedFdInstall::new(files.get(3).unwrap());
    assert_op(
        "io_uring_prep_fixed_fd_install(sqe, 3, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        op_flags: sys::IORING_FIXED_FD_NO_CLOEXEC,
        ..theirs
    };
    let op = FixedFdInstall::new(files.get(3).unwrap()).install_fd_flags(InstallFlags::NO_CLOEXEC);
    assert_op(
        "io_uring_prep_fixed_fd_install(sqe, 3, IORING_FIXED_FD_NO_CLOEXEC)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_pipe() {
    let mut ring = ring();
    let mut fds: [RawFd; 2] = [-1; 2];
    let theirs = Sqe {
        opcode: sys::IORING_OP_PIPE,
        addr: ptr(&fds),
        op_flags: libc::O_CLOEXEC as u32,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_pipe(sqe, fds, O_CLOEXEC)",
        &mut ring,
        Pipe::new(&mut fds),
        theirs,
    );
    let theirs = Sqe {
        op_flags: libc::O_NONBLOCK as u32,
        ..theirs
    };
    let op = Pipe::new(&mut fds).pipe_flags(libc::O_NONBLOCK);
    assert_op(
        "io_uring_prep_pipe(sqe, fds, O_NONBLOCK)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_pipe_direct() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(8).unwrap();
    let mut fds: [RawFd; 2] = [-1; 2];
    let theirs = Sqe {
        opcode: sys::IORING_OP_PIPE,
        addr: ptr(&fds),
        file_index: sys::IORING_FILE_INDEX_ALLOC,
        ..ZERO
    };
    let op = Pipe::new(&mut fds).pipe_flags(0).direct(DirectSlot::ALLOC);
    assert_op(
        "io_uring_prep_pipe_direct(sqe, fds, 0, IORING_FILE_INDEX_ALLOC)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        file_index: 2 + 1,
        ..theirs
    };
    let op = Pipe::new(&mut fds)
        .pipe_flags(0)
        .direct(DirectSlot::at(files.get_mut(2).unwrap()));
    assert_op(
        "io_uring_prep_pipe_direct(sqe, fds, 0, 2)",
        &mut ring,
        op,
        theirs,
    );
}

// ---------------------------------------------------------------------------
// Sockets.
// ---------------------------------------------------------------------------

/// A 64-bit field made of two 32-bit ones, `first` at the lower address
/// (`cmd_op` and `__pad1`; `level` and `optname`).
fn pair32(first: u32, second: u32) -> u64 {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&first.to_ne_bytes());
    b[4..].copy_from_slice(&second.to_ne_bytes());
    u64::from_ne_bytes(b)
}

/// A 32-bit field made of two 16-bit ones, `first` at the lower address
/// (`addr_len` and `__pad3`).
fn pair16(first: u16, second: u16) -> u32 {
    let mut b = [0u8; 4];
    b[..2].copy_from_slice(&first.to_ne_bytes());
    b[2..].copy_from_slice(&second.to_ne_bytes());
    u32::from_ne_bytes(b)
}

fn udp() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("a UDP socket")
}

/// The address of the `struct msghdr` a message type wraps: the header is
/// its first field (the types are `repr(C)`, or the header alone), so it
/// is at the value's start.
fn msghdr_ptr<T>(msg: &T) -> u64 {
    assert!(mem::size_of::<T>() >= mem::size_of::<libc::msghdr>());
    ptr(msg)
}

/// The address of the `sockaddr_storage` of a `SockAddr` (its first
/// field, or second: found by the address family it starts with).
fn sockaddr_ptr(addr: &SockAddr, family: libc::sa_family_t) -> u64 {
    assert_eq!(mem::size_of::<SockAddr>(), 136, "storage and length");
    let base = ptr(addr);
    // SAFETY: offsets 0 and 8 are inside the value, and in either order
    // of its two fields they hold initialised bytes (the length word, or
    // the zero-filled storage).
    let at = |offset: u64| unsafe { ((base + offset) as *const u16).read() };
    if at(0) == family {
        base
    } else if at(8) == family {
        base + 8
    } else {
        panic!("no address family {family} at the start of the storage");
    }
}

/// The addresses of the storage and of the length word of a
/// `SockAddrBuf`, found by the length word: a fresh (or reset) buffer's
/// storage is all zeros and its length is that of the storage.
fn sockaddr_buf_ptrs(buf: &SockAddrBuf) -> (u64, u64) {
    const STORAGE: u32 = mem::size_of::<libc::sockaddr_storage>() as u32;
    assert_eq!(mem::size_of::<SockAddrBuf>(), 136, "storage and length");
    let base = ptr(buf);
    // SAFETY: offset 0 holds the length word or the start of the zeroed
    // storage: initialised either way.
    let first = unsafe { (base as *const u32).read() };
    if first == STORAGE {
        (base + 8, base)
    } else {
        // SAFETY: the storage is first, so the length word follows it.
        let len = unsafe { ((base + 128) as *const u32).read() };
        assert_eq!(len, STORAGE, "the length word follows the storage");
        (base, base + 128)
    }
}

/// A block device this process can open, for the block commands: the
/// first loop device, or any other.
fn block_device() -> Option<File> {
    let mut names: Vec<String> = std::fs::read_dir("/dev")
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            use std::os::unix::fs::FileTypeExt;
            e.file_type().is_ok_and(|t| t.is_block_device())
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| (!n.starts_with("loop"), n.clone()));
    names
        .iter()
        .find_map(|n| File::open(format!("/dev/{n}")).ok())
}

fn v4() -> SockAddr {
    SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 4242)))
}

fn v6() -> SockAddr {
    SockAddr::from("[::1]:4242".parse::<SocketAddr>().unwrap())
}

const AF_INET: libc::sa_family_t = libc::AF_INET as libc::sa_family_t;
const AF_INET6: libc::sa_family_t = libc::AF_INET6 as libc::sa_family_t;

#[test]
fn io_uring_prep_socket() {
    let mut ring = ring();
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    let theirs = Sqe {
        opcode: sys::IORING_OP_SOCKET,
        fd: libc::AF_INET,
        off: ty as u64,
        ..ZERO
    };
    let op = Socket::new(libc::AF_INET, ty);
    assert_op(
        "io_uring_prep_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        len: libc::IPPROTO_TCP as u32,
        ..theirs
    };
    let op = Socket::new(libc::AF_INET, ty).protocol(libc::IPPROTO_TCP);
    assert_op(
        "io_uring_prep_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 0)",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_socket` passes the `int` type to `io_uring_prep_rw`'s
/// 64-bit offset, which sign-extends it; so does the op.
#[test]
fn io_uring_prep_socket_negative_type() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SOCKET,
        fd: libc::AF_INET,
        off: -1i32 as i64 as u64,
        ..ZERO
    };
    let op = Socket::new(libc::AF_INET, -1);
    assert_op(
        "io_uring_prep_socket(AF_INET, -1, 0, 0)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_socket_direct() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(8).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SOCKET,
        fd: libc::AF_INET6,
        off: libc::SOCK_DGRAM as u64,
        file_index: 2 + 1,
        ..ZERO
    };
    let op = Socket::new(libc::AF_INET6, libc::SOCK_DGRAM)
        .direct(DirectSlot::at(files.get_mut(2).unwrap()));
    assert_op(
        "io_uring_prep_socket_direct(AF_INET6, SOCK_DGRAM, 0, 2, 0)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_socket_direct_alloc() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SOCKET,
        fd: libc::AF_INET6,
        off: libc::SOCK_DGRAM as u64,
        file_index: sys::IORING_FILE_INDEX_ALLOC,
        ..ZERO
    };
    let op = Socket::new(libc::AF_INET6, libc::SOCK_DGRAM).direct(DirectSlot::ALLOC);
    assert_op(
        "io_uring_prep_socket_direct_alloc(AF_INET6, SOCK_DGRAM, 0, 0)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_bind() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let addr = v4();
    let theirs = Sqe {
        opcode: sys::IORING_OP_BIND,
        fd: fd(&socket),
        off: 16,
        addr: sockaddr_ptr(&addr, AF_INET),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_bind",
        &mut ring,
        Bind::new(&socket, &addr),
        theirs,
    );
    let addr = v6();
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        off: 28,
        addr: sockaddr_ptr(&addr, AF_INET6),
        ..theirs
    };
    let op = Bind::new(files.get(2).unwrap(), &addr);
    assert_op("io_uring_prep_bind, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_listen() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_LISTEN,
        fd: fd(&socket),
        len: 128,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_listen",
        &mut ring,
        Listen::new(&socket, 128),
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..theirs
    };
    let op = Listen::new(files.get(2).unwrap(), 128);
    assert_op("io_uring_prep_listen, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_accept() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_ACCEPT,
        fd: fd(&listener),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_accept(fd, NULL, NULL, 0)",
        &mut ring,
        Accept::new(&listener),
        theirs,
    );
    let mut peer = SockAddrBuf::new();
    let (storage, len) = sockaddr_buf_ptrs(&peer);
    let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    let theirs = Sqe {
        opcode: sys::IORING_OP_ACCEPT,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 1,
        off: len,
        addr: storage,
        op_flags: flags as u32,
        ..ZERO
    };
    let op = Accept::new(files.get(1).unwrap())
        .peer(Some(&mut peer))
        .accept_flags(flags);
    assert_op(
        "io_uring_prep_accept(1, &addr, &addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK), fixed",
        &mut ring,
        op,
        theirs,
    );
    // IORING_ACCEPT_DONTWAIT and POLL_FIRST have no helper: `sqe->ioprio`.
    let theirs = Sqe {
        opcode: sys::IORING_OP_ACCEPT,
        ioprio: sys::IORING_ACCEPT_DONTWAIT | sys::IORING_ACCEPT_POLL_FIRST,
        fd: fd(&listener),
        ..ZERO
    };
    let op = Accept::new(&listener).iou_flags(AcceptFlags::DONTWAIT | AcceptFlags::POLL_FIRST);
    assert_op(
        "io_uring_prep_accept, IORING_ACCEPT_DONTWAIT | IORING_ACCEPT_POLL_FIRST",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_multishot_accept() {
    let mut ring = ring();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_ACCEPT,
        ioprio: sys::IORING_ACCEPT_MULTISHOT,
        fd: fd(&listener),
        op_flags: libc::SOCK_CLOEXEC as u32,
        ..ZERO
    };
    let op = Accept::new(&listener)
        .accept_flags(libc::SOCK_CLOEXEC)
        .iou_flags(AcceptFlags::MULTISHOT);
    assert_op(
        "io_uring_prep_multishot_accept(fd, NULL, NULL, SOCK_CLOEXEC)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_accept_direct() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(8).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_ACCEPT,
        fd: fd(&listener),
        file_index: sys::IORING_FILE_INDEX_ALLOC,
        ..ZERO
    };
    let op = Accept::new(&listener).direct(DirectSlot::ALLOC);
    assert_op(
        "io_uring_prep_accept_direct(fd, NULL, NULL, 0, IORING_FILE_INDEX_ALLOC)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        file_index: 7 + 1,
        ..theirs
    };
    let op = Accept::new(&listener).direct(DirectSlot::at(files.get_mut(7).unwrap()));
    assert_op(
        "io_uring_prep_accept_direct(fd, NULL, NULL, 0, 7)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_multishot_accept_direct() {
    let mut ring = ring();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_ACCEPT,
        ioprio: sys::IORING_ACCEPT_MULTISHOT,
        fd: fd(&listener),
        file_index: sys::IORING_FILE_INDEX_ALLOC,
        ..ZERO
    };
    let op = Accept::new(&listener)
        .iou_flags(AcceptFlags::MULTISHOT)
        .direct(DirectSlot::ALLOC);
    assert_op(
        "io_uring_prep_multishot_accept_direct(fd, NULL, NULL, 0)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_connect() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = uring_tests::socket(libc::AF_INET6, libc::SOCK_STREAM).unwrap();
    let addr = v6();
    let theirs = Sqe {
        opcode: sys::IORING_OP_CONNECT,
        fd: fd(&socket),
        off: mem::size_of::<libc::sockaddr_in6>() as u64,
        addr: sockaddr_ptr(&addr, AF_INET6),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_connect",
        &mut ring,
        Connect::new(&socket, &addr),
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 0,
        ..theirs
    };
    let op = Connect::new(files.get(0).unwrap(), &addr);
    assert_op("io_uring_prep_connect, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_send() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let buf = *b"hello";
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND,
        fd: fd(&socket),
        addr: ptr(&buf),
        len: 5,
        op_flags: (libc::MSG_NOSIGNAL | libc::MSG_MORE) as u32,
        ..ZERO
    };
    let op = Send::new(&socket, &buf).msg_flags(MsgFlags::NOSIGNAL | MsgFlags::MORE);
    assert_op(
        "io_uring_prep_send(fd, buf, 5, MSG_NOSIGNAL | MSG_MORE)",
        &mut ring,
        op,
        theirs,
    );
    // IORING_RECVSEND_POLL_FIRST has no helper: `sqe->ioprio`.
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND,
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_RECVSEND_POLL_FIRST,
        fd: 3,
        addr: ptr(&buf),
        len: 5,
        ..ZERO
    };
    let op = Send::new(files.get(3).unwrap(), &buf).send_flags(SendFlags::POLL_FIRST);
    assert_op(
        "io_uring_prep_send(3, buf, 5, 0), IORING_RECVSEND_POLL_FIRST, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_sendto() {
    let mut ring = ring();
    let socket = udp();
    let buf = *b"hello";
    let dest = v4();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND,
        fd: fd(&socket),
        off: sockaddr_ptr(&dest, AF_INET),
        addr: ptr(&buf),
        len: 5,
        op_flags: libc::MSG_DONTWAIT as u32,
        file_index: pair16(16, 0),
        ..ZERO
    };
    let op = Send::new(&socket, &buf)
        .msg_flags(MsgFlags::DONTWAIT)
        .dest(Some(&dest));
    assert_op("io_uring_prep_sendto", &mut ring, op, theirs);
}

/// `io_uring_prep_send(fd, iovecs, 2, flags)` and
/// `io_uring_prep_send_zc(fd, iovecs, 2, flags, zc_flags)`, then
/// `sqe->ioprio |= IORING_SEND_VECTORIZED` (liburing has no helper for the
/// flag); `io_uring_prep_send_set_addr` for a destination.
#[test]
fn io_uring_prep_send_vectorized() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let (a, b) = (*b"abc", *b"defgh");
    let iovecs = [IoSlice::new(&a), IoSlice::new(&b)];
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND,
        ioprio: sys::IORING_SEND_VECTORIZED,
        fd: fd(&socket),
        addr: ptr(&iovecs[..]),
        len: 2,
        op_flags: libc::MSG_NOSIGNAL as u32,
        ..ZERO
    };
    let op = SendV::new(&socket, &iovecs).msg_flags(MsgFlags::NOSIGNAL);
    assert_op(
        "io_uring_prep_send(fd, iovecs, 2, MSG_NOSIGNAL), IORING_SEND_VECTORIZED",
        &mut ring,
        op,
        theirs,
    );
    let dest = v4();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND,
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_SEND_VECTORIZED | sys::IORING_RECVSEND_POLL_FIRST,
        fd: 3,
        off: sockaddr_ptr(&dest, AF_INET),
        addr: ptr(&iovecs[..]),
        len: 2,
        file_index: pair16(16, 0),
        ..ZERO
    };
    let op = SendV::new(files.get(3).unwrap(), &iovecs)
        .send_flags(SendFlags::POLL_FIRST)
        .dest(Some(&dest));
    assert_op(
        "io_uring_prep_sendto(3, iovecs, 2, 0, dest), IORING_SEND_VECTORIZED | \
         IORING_RECVSEND_POLL_FIRST, fixed",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND_ZC,
        ioprio: sys::IORING_SEND_VECTORIZED | sys::IORING_SEND_ZC_REPORT_USAGE,
        fd: fd(&socket),
        addr: ptr(&iovecs[..]),
        len: 2,
        op_flags: libc::MSG_DONTWAIT as u32,
        ..ZERO
    };
    let op = SendZcV::new(&socket, &iovecs)
        .msg_flags(MsgFlags::DONTWAIT)
        .send_flags(SendZcFlags::REPORT_USAGE);
    assert_op(
        "io_uring_prep_send_zc(fd, iovecs, 2, MSG_DONTWAIT, \
         IORING_SEND_ZC_REPORT_USAGE), IORING_SEND_VECTORIZED",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND_ZC,
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_SEND_VECTORIZED,
        fd: 3,
        off: sockaddr_ptr(&dest, AF_INET),
        addr: ptr(&iovecs[..]),
        len: 2,
        file_index: pair16(16, 0),
        ..ZERO
    };
    let op = SendZcV::new(files.get(3).unwrap(), &iovecs).dest(Some(&dest));
    assert_op(
        "io_uring_prep_sendto_zc(3, iovecs, 2, 0, dest, 0), IORING_SEND_VECTORIZED, fixed",
        &mut ring,
        op,
        theirs,
    );
}

/// Memory mapped without backing (`MAP_NORESERVE`), zero-filled on first
/// touch: a buffer over 4 GiB that costs nothing while nothing touches it
/// (the ops over it are never submitted).
struct Reservation {
    at: *mut u8,
    len: usize,
}

impl Reservation {
    fn new(len: usize) -> Reservation {
        // SAFETY: a new anonymous private mapping; no existing memory is
        // affected.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(
            at,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        Reservation { at: at.cast(), len }
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes, readable and writable, and
        // zero-filled on first touch, so every byte is initialised; the
        // slice borrows the reservation exclusively.
        unsafe { std::slice::from_raw_parts_mut(self.at, self.len) }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the mapping `new` made, which no slice borrows any more.
        unsafe { libc::munmap(self.at.cast(), self.len) };
    }
}

/// A buffer 5 bytes longer than 4 GiB.
const OVER_4_GIB: usize = (1 << 32) + 5;

/// `io_uring_prep_send` takes a `size_t` length and keeps its low 32 bits;
/// the op clamps it to `u32::MAX`.
///
/// The one deliberate difference from liburing's bytes: truncated, a
/// buffer of 4 GiB and 5 bytes would move 5 bytes (and one of exactly
/// 4 GiB none, which reads as end of file); clamped, it moves as much as
/// the kernel takes in one op.
#[test]
fn io_uring_prep_send_over_4_gib_is_clamped() {
    let mut ring = ring();
    let socket = udp();
    let mut big = Reservation::new(OVER_4_GIB);
    let buf = big.bytes();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND,
        fd: fd(&socket),
        addr: ptr(&buf[0]),
        // Deliberately not liburing's `len as u32` (5).
        len: u32::MAX,
        ..ZERO
    };
    let op = Send::new(&socket, &*buf);
    assert_op(
        "io_uring_prep_send(fd, buf, (1 << 32) + 5, 0)",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_recv` takes a `size_t` length and keeps its low 32 bits;
/// the op clamps it to `u32::MAX`.
///
/// The one deliberate difference from liburing's bytes: truncated, a
/// buffer of 4 GiB and 5 bytes would move 5 bytes (and one of exactly
/// 4 GiB none, which reads as end of file); clamped, it moves as much as
/// the kernel takes in one op.
#[test]
fn io_uring_prep_recv_over_4_gib_is_clamped() {
    let mut ring = ring();
    let socket = udp();
    let mut big = Reservation::new(OVER_4_GIB);
    let buf = big.bytes();
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECV,
        fd: fd(&socket),
        addr: ptr(&buf[0]),
        // Deliberately not liburing's `len as u32` (5).
        len: u32::MAX,
        ..ZERO
    };
    let op = Recv::new(&socket, buf);
    assert_op(
        "io_uring_prep_recv(fd, buf, (1 << 32) + 5, 0)",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_send_zc` (and `_fixed`) take a `size_t` length and keep
/// its low 32 bits; the op clamps it to `u32::MAX`.
///
/// The one deliberate difference from liburing's bytes: truncated, a
/// buffer of 4 GiB and 5 bytes would move 5 bytes (and one of exactly
/// 4 GiB none, which reads as end of file); clamped, it moves as much as
/// the kernel takes in one op.
#[test]
fn io_uring_prep_send_zc_over_4_gib_is_clamped() {
    let mut ring = ring();
    let socket = udp();
    let mut big = Reservation::new(OVER_4_GIB);
    let buf = big.bytes();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND_ZC,
        fd: fd(&socket),
        addr: ptr(&buf[0]),
        // Deliberately not liburing's `len as u32` (5).
        len: u32::MAX,
        ..ZERO
    };
    let op = SendZc::new(&socket, &*buf);
    assert_op(
        "io_uring_prep_send_zc(fd, buf, (1 << 32) + 5, 0, 0)",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_send_bundle(fd, len, flags)`, then `IOSQE_BUFFER_SELECT`
/// and `sqe->buf_group`; without the bundle flag, `io_uring_prep_send(fd,
/// NULL, len, flags)` and the same two.
#[test]
fn io_uring_prep_send_bundle() {
    let mut ring = ring();
    let socket = udp();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND,
        flags: sys::IOSQE_BUFFER_SELECT,
        ioprio: sys::IORING_RECVSEND_BUNDLE,
        fd: fd(&socket),
        len: 4096,
        buf_index: 9,
        ..ZERO
    };
    let op = Send::new(&socket, BufferGroup::new(9).select(4096)).send_flags(SendFlags::BUNDLE);
    assert_op("io_uring_prep_send_bundle", &mut ring, op, theirs);
    let theirs = Sqe {
        ioprio: 0,
        op_flags: libc::MSG_NOSIGNAL as u32,
        ..theirs
    };
    let op = Send::new(&socket, BufferGroup::new(9).select(4096)).msg_flags(MsgFlags::NOSIGNAL);
    assert_op(
        "io_uring_prep_send(fd, NULL, 4096, MSG_NOSIGNAL), buffer select",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_recv() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let mut buf = [0u8; 64];
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECV,
        fd: fd(&socket),
        addr: ptr(&buf),
        len: 64,
        op_flags: (libc::MSG_PEEK | libc::MSG_WAITALL) as u32,
        ..ZERO
    };
    let op = Recv::new(&socket, &mut buf[..]).msg_flags(MsgFlags::PEEK | MsgFlags::WAITALL);
    assert_op(
        "io_uring_prep_recv(fd, buf, 64, MSG_PEEK | MSG_WAITALL)",
        &mut ring,
        op,
        theirs,
    );
    // IORING_RECVSEND_POLL_FIRST has no helper: `sqe->ioprio`.
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECV,
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_RECVSEND_POLL_FIRST,
        fd: 3,
        addr: ptr(&buf),
        len: 64,
        ..ZERO
    };
    let op = Recv::new(files.get(3).unwrap(), &mut buf[..]).recv_flags(RecvFlags::POLL_FIRST);
    assert_op(
        "io_uring_prep_recv(3, buf, 64, 0), IORING_RECVSEND_POLL_FIRST, fixed",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_recv_multishot(fd, NULL, len, flags)`, then
/// `IOSQE_BUFFER_SELECT` and `sqe->buf_group`; a bundle has no helper:
/// `io_uring_prep_recv` and `IORING_RECVSEND_BUNDLE` in `sqe->ioprio`.
#[test]
fn io_uring_prep_recv_multishot() {
    let mut ring = ring();
    let socket = udp();
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECV,
        flags: sys::IOSQE_BUFFER_SELECT,
        ioprio: sys::IORING_RECV_MULTISHOT,
        fd: fd(&socket),
        len: 0,
        op_flags: libc::MSG_TRUNC as u32,
        buf_index: 4,
        ..ZERO
    };
    let op = Recv::new(&socket, BufferGroup::new(4).select(0))
        .msg_flags(MsgFlags::TRUNC)
        .recv_flags(RecvFlags::MULTISHOT);
    assert_op("io_uring_prep_recv_multishot", &mut ring, op, theirs);
    let theirs = Sqe {
        ioprio: sys::IORING_RECVSEND_BUNDLE,
        len: 1 << 16,
        op_flags: 0,
        ..theirs
    };
    let op = Recv::new(&socket, BufferGroup::new(4).select(1 << 16)).recv_flags(RecvFlags::BUNDLE);
    assert_op(
        "io_uring_prep_recv(fd, NULL, 65536, 0), bundle, buffer select",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_sendmsg() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let dest = v4();
    let iovecs = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
    let msg = MsgHdr::new(&iovecs).to(&dest);
    let theirs = Sqe {
        opcode: sys::IORING_OP_SENDMSG,
        fd: fd(&socket),
        addr: msghdr_ptr(&msg),
        len: 1,
        op_flags: libc::MSG_NOSIGNAL as u32,
        ..ZERO
    };
    let op = SendMsg::new(&socket, &msg).msg_flags(MsgFlags::NOSIGNAL);
    assert_op("io_uring_prep_sendmsg", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_RECVSEND_POLL_FIRST,
        fd: 2,
        op_flags: 0,
        ..theirs
    };
    let op = SendMsg::new(files.get(2).unwrap(), &msg).send_flags(SendFlags::POLL_FIRST);
    assert_op(
        "io_uring_prep_sendmsg, IORING_RECVSEND_POLL_FIRST, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_recvmsg() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
    let mut iovecs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
    let mut from = SockAddrBuf::new();
    let mut control = [0u8; 64];
    let mut msg = MsgHdrMut::new(&mut iovecs)
        .from(&mut from)
        .control(&mut control);
    let at = msghdr_ptr(&msg);
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECVMSG,
        fd: fd(&socket),
        addr: at,
        len: 1,
        op_flags: libc::MSG_CMSG_CLOEXEC as u32,
        ..ZERO
    };
    let op = RecvMsg::new(&socket, &mut msg).msg_flags(MsgFlags::CMSG_CLOEXEC);
    assert_op("io_uring_prep_recvmsg", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_RECVSEND_POLL_FIRST,
        fd: 2,
        op_flags: 0,
        ..theirs
    };
    let op = RecvMsg::new(files.get(2).unwrap(), &mut msg).recv_flags(SendFlags::POLL_FIRST);
    assert_op(
        "io_uring_prep_recvmsg, IORING_RECVSEND_POLL_FIRST, fixed",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_recvmsg_multishot`, then `IOSQE_BUFFER_SELECT` and
/// `sqe->buf_group`.
#[test]
fn io_uring_prep_recvmsg_multishot() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let layout = MsgLayout::new(mem::size_of::<libc::sockaddr_storage>() as u32, 32);
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECVMSG,
        flags: sys::IOSQE_BUFFER_SELECT,
        ioprio: sys::IORING_RECV_MULTISHOT,
        fd: fd(&socket),
        addr: msghdr_ptr(&layout),
        len: 1,
        op_flags: libc::MSG_TRUNC as u32,
        buf_index: 6,
        ..ZERO
    };
    let op = RecvMsgMulti::new(&socket, &layout, BufferGroup::new(6)).msg_flags(MsgFlags::TRUNC);
    assert_op("io_uring_prep_recvmsg_multishot", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_BUFFER_SELECT | sys::IOSQE_FIXED_FILE,
        fd: 2,
        op_flags: 0,
        ..theirs
    };
    let op = RecvMsgMulti::new(files.get(2).unwrap(), &layout, BufferGroup::new(6));
    assert_op(
        "io_uring_prep_recvmsg_multishot, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_send_zc() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let buf = *b"zero copy";
    let zc = sys::IORING_RECVSEND_POLL_FIRST | sys::IORING_SEND_ZC_REPORT_USAGE;
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND_ZC,
        ioprio: zc,
        fd: fd(&socket),
        addr: ptr(&buf),
        len: 9,
        op_flags: libc::MSG_NOSIGNAL as u32,
        ..ZERO
    };
    let op = SendZc::new(&socket, &buf)
        .msg_flags(MsgFlags::NOSIGNAL)
        .send_flags(SendZcFlags::POLL_FIRST | SendZcFlags::REPORT_USAGE);
    assert_op(
        "io_uring_prep_send_zc(fd, buf, 9, MSG_NOSIGNAL, POLL_FIRST | REPORT_USAGE)",
        &mut ring,
        op,
        theirs,
    );
    // A destination: `io_uring_prep_send_set_addr`.
    let dest = v6();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND_ZC,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 5,
        off: sockaddr_ptr(&dest, AF_INET6),
        addr: ptr(&buf),
        len: 9,
        file_index: pair16(28, 0),
        ..ZERO
    };
    let op = SendZc::new(files.get(5).unwrap(), &buf).dest(Some(&dest));
    assert_op(
        "io_uring_prep_send_zc(5, buf, 9, 0, 0), io_uring_prep_send_set_addr, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_send_zc_fixed() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let socket = udp();
    let buf = &region[2048..2048 + 100];
    let theirs = Sqe {
        opcode: sys::IORING_OP_SEND_ZC,
        ioprio: sys::IORING_SEND_ZC_REPORT_USAGE | sys::IORING_RECVSEND_FIXED_BUF,
        fd: fd(&socket),
        addr: ptr(&buf[0]),
        len: 100,
        op_flags: libc::MSG_DONTWAIT as u32,
        buf_index: 1,
        ..ZERO
    };
    let op = SendZcFixed::new(&socket, buf, bufs.get(1).unwrap())
        .msg_flags(MsgFlags::DONTWAIT)
        .send_flags(SendZcFlags::REPORT_USAGE);
    assert_op(
        "io_uring_prep_send_zc_fixed(fd, buf, 100, MSG_DONTWAIT, REPORT_USAGE, 1)",
        &mut ring,
        op,
        theirs,
    );
    let dest = v4();
    let theirs = Sqe {
        ioprio: sys::IORING_RECVSEND_FIXED_BUF,
        off: sockaddr_ptr(&dest, AF_INET),
        op_flags: 0,
        file_index: pair16(16, 0),
        ..theirs
    };
    let op = SendZcFixed::new(&socket, buf, bufs.get(1).unwrap()).dest(Some(&dest));
    assert_op(
        "io_uring_prep_send_zc_fixed(fd, buf, 100, 0, 0, 1), io_uring_prep_send_set_addr",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_sendmsg_zc() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let iovecs = [IoSlice::new(b"ab")];
    let msg = MsgHdr::new(&iovecs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_SENDMSG_ZC,
        fd: fd(&socket),
        addr: msghdr_ptr(&msg),
        len: 1,
        op_flags: libc::MSG_NOSIGNAL as u32,
        ..ZERO
    };
    let op = SendMsgZc::new(&socket, &msg).msg_flags(MsgFlags::NOSIGNAL);
    assert_op("io_uring_prep_sendmsg_zc", &mut ring, op, theirs);
    // Zero-copy flags have no helper argument: `sqe->ioprio`.
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_SEND_ZC_REPORT_USAGE,
        fd: 2,
        op_flags: 0,
        ..theirs
    };
    let op = SendMsgZc::new(files.get(2).unwrap(), &msg).send_flags(SendZcFlags::REPORT_USAGE);
    assert_op(
        "io_uring_prep_sendmsg_zc, IORING_SEND_ZC_REPORT_USAGE, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_sendmsg_zc_fixed() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let socket = udp();
    let iovecs = [IoSlice::new(&region[..10]), IoSlice::new(&region[20..30])];
    let msg = MsgHdr::new(&iovecs);
    let theirs = Sqe {
        opcode: sys::IORING_OP_SENDMSG_ZC,
        ioprio: sys::IORING_RECVSEND_FIXED_BUF,
        fd: fd(&socket),
        addr: msghdr_ptr(&msg),
        len: 1,
        op_flags: libc::MSG_NOSIGNAL as u32,
        buf_index: 0,
        ..ZERO
    };
    let op = SendMsgZcFixed::new(&socket, &msg, bufs.get(0).unwrap()).msg_flags(MsgFlags::NOSIGNAL);
    assert_op(
        "io_uring_prep_sendmsg_zc_fixed(fd, msg, MSG_NOSIGNAL, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        ioprio: sys::IORING_RECVSEND_FIXED_BUF | sys::IORING_RECVSEND_POLL_FIRST,
        op_flags: 0,
        ..theirs
    };
    let op = SendMsgZcFixed::new(&socket, &msg, bufs.get(0).unwrap())
        .send_flags(SendZcFlags::POLL_FIRST);
    assert_op(
        "io_uring_prep_sendmsg_zc_fixed(fd, msg, 0, 0), IORING_RECVSEND_POLL_FIRST",
        &mut ring,
        op,
        theirs,
    );
}

/// liburing has no helper: `io_uring_prep_rw(IORING_OP_RECV_ZC, sqe, fd,
/// NULL, len, 0)`, then `IORING_RECV_MULTISHOT` in `sqe->ioprio` and
/// `sqe->zcrx_ifq_idx` (as its tests and examples write it).
#[test]
fn io_uring_prep_rw_recv_zc() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECV_ZC,
        ioprio: sys::IORING_RECV_MULTISHOT,
        fd: fd(&socket),
        file_index: 2,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_rw(IORING_OP_RECV_ZC, fd, NULL, 0, 0), zcrx_ifq_idx 2",
        &mut ring,
        RecvZc::new(&socket, 2),
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 1,
        len: 1 << 20,
        op_flags: libc::MSG_DONTWAIT as u32,
        ..theirs
    };
    let op = RecvZc::new(files.get(1).unwrap(), 2)
        .len(1 << 20)
        .msg_flags(MsgFlags::DONTWAIT);
    assert_op(
        "io_uring_prep_rw(IORING_OP_RECV_ZC, 1, NULL, 1 << 20, 0), msg_flags, zcrx_ifq_idx 2, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_shutdown() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_SHUTDOWN,
        fd: fd(&socket),
        len: libc::SHUT_WR as u32,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_shutdown",
        &mut ring,
        Shutdown::new(&socket, libc::SHUT_WR),
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..theirs
    };
    let op = Shutdown::new(files.get(2).unwrap(), libc::SHUT_WR);
    assert_op("io_uring_prep_shutdown, fixed", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_uring_cmd() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    // SAFETY: the op is never submitted: no driver sees the command.
    let cmd = unsafe { UringCmdOp::new(0x1234_5678) };
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&file),
        off: pair32(0x1234_5678, 0),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_uring_cmd",
        &mut ring,
        UringCmd::new(&file, cmd),
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..theirs
    };
    let op = UringCmd::new(files.get(2).unwrap(), cmd);
    assert_op("io_uring_prep_uring_cmd, fixed", &mut ring, op, theirs);
}

/// `io_uring_prep_uring_cmd(sqe, cmd_op, fd)`, then the 16-byte command
/// copied to `sqe->cmd` (what a ublk server does with its `struct
/// ublksrv_io_cmd`): the command is the SQE's last 16 bytes, over `addr3`
/// and `__pad2`.
#[test]
fn io_uring_prep_uring_cmd_with_a_16_byte_command() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let bytes: [u8; 16] = std::array::from_fn(|i| 0xc0 | i as u8);
    // SAFETY: the op is never submitted: no driver sees the command.
    let (op, cmd) = unsafe {
        (UringCmdOp::new(0xC018_7520), || {
            uring::Cmd16::from_bytes(bytes)
        })
    };
    assert_eq!(cmd().bytes(), &bytes);
    assert_eq!(format!("{:?}", cmd()), format!("Cmd16({:?})", &bytes[..]));
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&file),
        off: pair32(0xC018_7520, 0),
        addr3: u64::from_ne_bytes(bytes[..8].try_into().unwrap()),
        pad2: u64::from_ne_bytes(bytes[8..].try_into().unwrap()),
        ..ZERO
    };
    assert_eq!(
        theirs.to_bytes()[48..],
        bytes,
        "sqe->cmd is the last 16 bytes"
    );
    let plain = UringCmd16::new(&file, op, cmd());
    assert_op(
        "io_uring_prep_uring_cmd + cmd[16]",
        &mut ring,
        plain,
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..theirs
    };
    let fixed = UringCmd16::new(files.get(2).unwrap(), op, cmd());
    assert_op(
        "io_uring_prep_uring_cmd + cmd[16], fixed",
        &mut ring,
        fixed,
        theirs,
    );
    // With the user data, SQE flags and personality every op carries.
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE | sys::IOSQE_ASYNC,
        user_data: 0x1616,
        ..theirs
    };
    let fixed = UringCmd16::new(files.get(2).unwrap(), op, cmd())
        .user_data(0x1616)
        .flags(SqeFlags::ASYNC);
    assert_op(
        "io_uring_prep_uring_cmd + cmd[16], fixed, IOSQE_ASYNC, user_data",
        &mut ring,
        fixed,
        theirs,
    );
}

/// The 16-byte command on a ring of 128-byte SQEs: the first 16 bytes of
/// the 80-byte command area, the other 64 zero (written over the junk the
/// slot held), the first 48 bytes as for any command.
#[test]
fn io_uring_prep_uring_cmd_with_a_16_byte_command_in_a_128_byte_sqe() {
    let mut ring = uring::Builder::new()
        .build_sized::<uring::Sqe128, uring::Cqe16>(4)
        .expect("a ring of 128-byte SQEs");
    let file = tempfile();
    let bytes: [u8; 16] = std::array::from_fn(|i| 0x30 | i as u8);
    // Junk in every slot first, as `dirty` leaves it in 64-byte rings: an
    // 80-byte command of 0xa5 bytes the kernel refuses at once (a
    // descriptor that is no file's).
    let junk: [u8; 80] = [0xa5; 80];
    for _ in 0..ring.sq_entries() {
        // SAFETY: the command goes to no file (EBADF before any driver
        // reads it), and borrows nothing.
        unsafe {
            let op = UringCmd80::new(
                uring_tests::bad_fd(),
                UringCmdOp::new(0),
                uring::Cmd80::from_bytes(junk),
            );
            ring.push_unchecked(op)
        }
        .unwrap();
    }
    let n = ring.sq_entries();
    ring.submit_and_wait(n).unwrap();
    assert!(ring.completions().all(|c| c.res() == -libc::EBADF));
    // SAFETY: the op is never submitted: no driver sees the command, and
    // the kernel never reads the SQE, which names the file.
    unsafe {
        let op = UringCmd16::new(
            &file,
            UringCmdOp::new(0x77),
            uring::Cmd16::from_bytes(bytes),
        );
        ring.push_unchecked(op)
    }
    .unwrap();
    let ours = ring.pending_sqes().last().expect("the SQE just pushed");
    // SAFETY: 128 bytes of plain integers, read from the SQ array.
    let ours: [u8; 128] = unsafe { mem::transmute(ours) };
    let head = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&file),
        off: pair32(0x77, 0),
        ..ZERO
    };
    assert_eq!(ours[..48], head.to_bytes()[..48], "the first 48 bytes");
    assert_eq!(ours[48..64], bytes, "the command");
    assert_eq!(ours[64..], [0u8; 64], "the rest of the command area");
}

/// `io_uring_prep_uring_cmd(sqe, cmd_op, fd)` on a ring of 128-byte SQEs,
/// then the 80-byte command copied to `sqe->cmd`: the first 48 bytes as
/// for any command, the command from byte 48 to the end of the 128.
#[test]
fn io_uring_prep_uring_cmd_with_an_80_byte_command() {
    let mut ring = uring::Builder::new()
        .build_sized::<uring::Sqe128, uring::Cqe32>(4)
        .expect("a ring of 128-byte SQEs");
    let files = ring.register_files_sparse(4).unwrap();
    let file = tempfile();
    let bytes: [u8; 80] = std::array::from_fn(|i| 0x80 | i as u8);
    // SAFETY: the op is never submitted: no driver sees the command.
    let (op, cmd) = unsafe {
        (UringCmdOp::new(0xC048_4E80), || {
            uring::Cmd80::from_bytes(bytes)
        })
    };
    let head = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&file),
        off: pair32(0xC048_4E80, 0),
        ..ZERO
    };
    let check = |ring: &mut Ring<uring::Sqe128, uring::Cqe32>, what: &str, theirs: Sqe| {
        let ours = ring.pending_sqes().last().expect("the SQE just pushed");
        // SAFETY: 128 bytes of plain integers, read from the SQ array.
        let ours: [u8; 128] = unsafe { mem::transmute(ours) };
        let mut want = [0u8; 128];
        want[..64].copy_from_slice(&theirs.to_bytes());
        want[48..].copy_from_slice(&bytes);
        assert_eq!(ours[..48], want[..48], "{what}: the first 48 bytes");
        assert_eq!(ours[48..], want[48..], "{what}: the command area");
    };
    // SAFETY: never submitted (see above).
    unsafe { ring.push_unchecked(UringCmd80::new(&file, op, cmd())) }.unwrap();
    check(&mut ring, "io_uring_prep_uring_cmd + cmd", head);
    // SAFETY: as above.
    unsafe { ring.push_unchecked(UringCmd80::new(files.get(1).unwrap(), op, cmd())) }.unwrap();
    let fixed = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 1,
        ..head
    };
    check(&mut ring, "io_uring_prep_uring_cmd + cmd, fixed", fixed);
}

/// `io_uring_prep_uring_cmd(sqe, cmd_op, fd)` with the 80-byte command,
/// and what a caller of liburing sets by hand for a command over a
/// registered buffer: `sqe->uring_cmd_flags = IORING_URING_CMD_FIXED` and
/// `sqe->buf_index`.
#[test]
fn io_uring_prep_uring_cmd_over_a_registered_buffer() {
    let mut ring = uring::Builder::new()
        .build_sized::<uring::Sqe128, uring::Cqe32>(4)
        .expect("a ring of 128-byte SQEs");
    let files = ring.register_files_sparse(4).unwrap();
    let mut region = vec![0u8; 8192];
    let (first, second) = region.split_at_mut(4096);
    // SAFETY: `region` outlives the ring, which is dropped first below.
    let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(first), IoSliceMut::new(second)]) }
        .expect("two registered buffers");
    let file = tempfile();
    let bytes: [u8; 80] = std::array::from_fn(|i| 0x40 | i as u8);
    // SAFETY: the op is never submitted: no driver sees the command.
    let (op, cmd) = unsafe {
        (UringCmdOp::new(0xC048_4E80), || {
            uring::Cmd80::from_bytes(bytes)
        })
    };
    let head = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&file),
        off: pair32(0xC048_4E80, 0),
        op_flags: sys::IORING_URING_CMD_FIXED,
        buf_index: 1,
        ..ZERO
    };
    let check = |ring: &mut Ring<uring::Sqe128, uring::Cqe32>, what: &str, theirs: Sqe| {
        let ours = ring.pending_sqes().last().expect("the SQE just pushed");
        // SAFETY: 128 bytes of plain integers, read from the SQ array.
        let ours: [u8; 128] = unsafe { mem::transmute(ours) };
        let mut want = [0u8; 128];
        want[..64].copy_from_slice(&theirs.to_bytes());
        want[48..].copy_from_slice(&bytes);
        assert_eq!(ours[..48], want[..48], "{what}: the first 48 bytes");
        assert_eq!(ours[48..], want[48..], "{what}: the command area");
    };
    let index = bufs.get(1).unwrap();
    // SAFETY: never submitted (see above).
    unsafe { ring.push_unchecked(UringCmd80Fixed::new(&file, op, cmd(), index)) }.unwrap();
    check(
        &mut ring,
        "io_uring_prep_uring_cmd + cmd + fixed buffer",
        head,
    );
    // SAFETY: as above.
    unsafe {
        ring.push_unchecked(UringCmd80Fixed::new(
            files.get(1).unwrap(),
            op,
            cmd(),
            index,
        ))
    }
    .unwrap();
    let fixed = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 1,
        ..head
    };
    check(
        &mut ring,
        "io_uring_prep_uring_cmd + cmd + fixed buffer, fixed file",
        fixed,
    );
    drop(ring);
    drop(region);
}

/// `io_uring_prep_cmd_sock(SOCKET_URING_OP_SIOCINQ, fd, 0, 0, NULL, 0)`.
#[test]
fn io_uring_prep_cmd_sock_siocinq() {
    let mut ring = ring();
    let socket = udp();
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&socket),
        off: pair32(sys::SOCKET_URING_OP_SIOCINQ, 0),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_cmd_sock(SOCKET_URING_OP_SIOCINQ, ..)",
        &mut ring,
        SocketInq::new(&socket),
        theirs,
    );
}

/// `io_uring_prep_cmd_sock(SOCKET_URING_OP_TX_TIMESTAMP, fd, 0, 0, NULL, 0)`,
/// as liburing's `test/timestamp.c` prepares it.
#[test]
fn io_uring_prep_cmd_sock_tx_timestamp() {
    let mut ring = ring();
    let socket = udp();
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&socket),
        off: pair32(sys::SOCKET_URING_OP_TX_TIMESTAMP, 0),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_cmd_sock(SOCKET_URING_OP_TX_TIMESTAMP, ..)",
        &mut ring,
        TxTimestamp::new(&socket),
        theirs,
    );
}

/// `io_uring_prep_cmd_sock(SOCKET_URING_OP_SIOCOUTQ, fd, 0, 0, NULL, 0)`.
#[test]
fn io_uring_prep_cmd_sock_siocoutq() {
    let mut ring = ring();
    let socket = udp();
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&socket),
        off: pair32(sys::SOCKET_URING_OP_SIOCOUTQ, 0),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_cmd_sock(SOCKET_URING_OP_SIOCOUTQ, ..)",
        &mut ring,
        SocketOutq::new(&socket),
        theirs,
    );
}

#[test]
fn io_uring_prep_cmd_sock_getsockopt() {
    let mut ring = ring();
    let socket = udp();
    let mut optval = [0u8; 4];
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&socket),
        off: pair32(sys::SOCKET_URING_OP_GETSOCKOPT, 0),
        addr: pair32(libc::SOL_SOCKET as u32, libc::SO_RCVBUF as u32),
        file_index: 4,
        addr3: ptr(&optval),
        ..ZERO
    };
    let op = GetSockOpt::new(&socket, SockOpt::SO_RCVBUF, &mut optval[..]);
    assert_op(
        "io_uring_prep_cmd_sock(SOCKET_URING_OP_GETSOCKOPT, fd, SOL_SOCKET, SO_RCVBUF, optval, 4)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_cmd_sock_setsockopt() {
    let mut ring = ring();
    let socket = udp();
    let optval = 1i32.to_ne_bytes();
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&socket),
        off: pair32(sys::SOCKET_URING_OP_SETSOCKOPT, 0),
        addr: pair32(libc::SOL_SOCKET as u32, libc::SO_REUSEADDR as u32),
        file_index: 4,
        addr3: ptr(&optval),
        ..ZERO
    };
    let op = SetSockOpt::new(&socket, SockOpt::SO_REUSEADDR, &optval);
    assert_op(
        "io_uring_prep_cmd_sock(SOCKET_URING_OP_SETSOCKOPT, fd, SOL_SOCKET, SO_REUSEADDR, optval, 4)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_cmd_getsockname() {
    let mut ring = ring();
    let socket = udp();
    let mut addr = SockAddrBuf::new();
    let (storage, len) = sockaddr_buf_ptrs(&addr);
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&socket),
        off: pair32(sys::SOCKET_URING_OP_GETSOCKNAME, 0),
        addr: storage,
        addr3: len,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_cmd_getsockname(fd, &addr, &addrlen, 0)",
        &mut ring,
        GetSockName::new(&socket, &mut addr),
        theirs,
    );
    let theirs = Sqe {
        file_index: 1,
        ..theirs
    };
    let op = GetSockName::new(&socket, &mut addr).peer(true);
    assert_op(
        "io_uring_prep_cmd_getsockname(fd, &addr, &addrlen, 1)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_cmd_discard() {
    let mut ring = ring();
    let Some(device) = block_device() else {
        skip("no block device to open under /dev");
        return;
    };
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&device),
        off: pair32(sys::BLOCK_URING_CMD_DISCARD, 0),
        addr: 4096,
        addr3: 65536,
        ..ZERO
    };
    let op = BlockDiscard::new(BlockDevice::new(&device).unwrap(), 4096, 65536);
    assert_op("io_uring_prep_cmd_discard", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_cmd_zone_reset_all() {
    let mut ring = ring();
    let Some(device) = block_device() else {
        skip("no block device to open under /dev");
        return;
    };
    let theirs = Sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: fd(&device),
        off: pair32(sys::BLOCK_URING_CMD_ZONE_RESET_ALL, 0),
        ..ZERO
    };
    let op = BlockZoneResetAll::new(BlockDevice::new(&device).unwrap());
    assert_op("io_uring_prep_cmd_zone_reset_all", &mut ring, op, theirs);
}

// ---------------------------------------------------------------------------
// Waiting: timeouts, polls, epoll, futexes, children.
// ---------------------------------------------------------------------------

/// Pushes a one-SQE `op` whose timespec the ring keeps, and asserts it wrote
/// `theirs` (see [`ring_owned_timespec`]).
#[track_caller]
fn assert_timed_op<S: Submission>(
    helper: &str,
    ring: &mut Ring,
    op: S,
    field: TimespecIn,
    value: Timespec,
    theirs_ts: &sys::__kernel_timespec,
    theirs: Sqe,
) {
    let mut ours = pushed(ring, op);
    assert_eq!(ours.len(), 1, "{helper}: one SQE pushed");
    ring_owned_timespec(&mut ours[0], field, value, theirs_ts);
    assert_sqe(helper, &ours[0], &theirs);
}

#[test]
fn io_uring_prep_timeout() {
    let mut ring = ring();
    let value = Timespec::new(2, 250_000_000);
    let ts = kernel_ts(value);
    let theirs = Sqe {
        opcode: sys::IORING_OP_TIMEOUT,
        fd: -1,
        addr: ptr(&ts),
        len: 1,
        ..ZERO
    };
    assert_timed_op(
        "io_uring_prep_timeout(ts, 0, 0)",
        &mut ring,
        Timeout::new(Duration::from_millis(2250)),
        TimespecIn::Addr,
        value,
        &ts,
        theirs,
    );
    let flags = sys::IORING_TIMEOUT_ABS | sys::IORING_TIMEOUT_BOOTTIME;
    let theirs = Sqe {
        off: 3,
        op_flags: flags,
        ..theirs
    };
    let op = Timeout::new(value)
        .count(3)
        .timeout_flags(TimeoutFlags::ABS | TimeoutFlags::BOOTTIME);
    assert_timed_op(
        "io_uring_prep_timeout(ts, 3, ABS | BOOTTIME)",
        &mut ring,
        op,
        TimespecIn::Addr,
        value,
        &ts,
        theirs,
    );
    let flags = sys::IORING_TIMEOUT_MULTISHOT | sys::IORING_TIMEOUT_ETIME_SUCCESS;
    let theirs = Sqe {
        off: 0,
        op_flags: flags,
        ..theirs
    };
    let op =
        Timeout::new(value).timeout_flags(TimeoutFlags::MULTISHOT | TimeoutFlags::ETIME_SUCCESS);
    assert_timed_op(
        "io_uring_prep_timeout(ts, 0, MULTISHOT | ETIME_SUCCESS)",
        &mut ring,
        op,
        TimespecIn::Addr,
        value,
        &ts,
        theirs,
    );
}

#[test]
fn io_uring_prep_timeout_remove() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_TIMEOUT_REMOVE,
        fd: -1,
        addr: 0xfeed,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_timeout_remove(0xfeed, 0)",
        &mut ring,
        TimeoutRemove::new(0xfeed),
        theirs,
    );
}

/// The new timespec's pointer goes in `off` (`addr2`).
#[test]
fn io_uring_prep_timeout_update() {
    let mut ring = ring();
    let value = Timespec::new(0, 750);
    let ts = kernel_ts(value);
    let theirs = Sqe {
        opcode: sys::IORING_OP_TIMEOUT_REMOVE,
        fd: -1,
        off: ptr(&ts),
        addr: 0xfeed,
        op_flags: sys::IORING_TIMEOUT_UPDATE,
        ..ZERO
    };
    assert_timed_op(
        "io_uring_prep_timeout_update(ts, 0xfeed, 0)",
        &mut ring,
        TimeoutUpdate::new(0xfeed, value),
        TimespecIn::Off,
        value,
        &ts,
        theirs,
    );
    let theirs = Sqe {
        op_flags: sys::IORING_TIMEOUT_UPDATE | sys::IORING_TIMEOUT_ABS,
        ..theirs
    };
    let op = TimeoutUpdate::new(0xfeed, value).timeout_flags(TimeoutFlags::ABS);
    assert_timed_op(
        "io_uring_prep_timeout_update(ts, 0xfeed, IORING_TIMEOUT_ABS)",
        &mut ring,
        op,
        TimespecIn::Off,
        value,
        &ts,
        theirs,
    );
}

/// `io_uring_prep_timeout_update(ts, user_data, IORING_LINK_TIMEOUT_UPDATE)`.
#[test]
fn io_uring_prep_timeout_update_link_timeout() {
    let mut ring = ring();
    let value = Timespec::new(4, 0);
    let ts = kernel_ts(value);
    let theirs = Sqe {
        opcode: sys::IORING_OP_TIMEOUT_REMOVE,
        fd: -1,
        off: ptr(&ts),
        addr: 0xbeef,
        op_flags: sys::IORING_LINK_TIMEOUT_UPDATE | sys::IORING_TIMEOUT_UPDATE,
        ..ZERO
    };
    assert_timed_op(
        "io_uring_prep_timeout_update(ts, 0xbeef, IORING_LINK_TIMEOUT_UPDATE)",
        &mut ring,
        LinkTimeoutUpdate::new(0xbeef, value),
        TimespecIn::Off,
        value,
        &ts,
        theirs,
    );
    let theirs = Sqe {
        op_flags: theirs.op_flags | sys::IORING_TIMEOUT_BOOTTIME,
        ..theirs
    };
    let op = LinkTimeoutUpdate::new(0xbeef, value).timeout_flags(TimeoutFlags::BOOTTIME);
    assert_timed_op(
        "io_uring_prep_timeout_update(ts, 0xbeef, IORING_LINK_TIMEOUT_UPDATE | BOOTTIME)",
        &mut ring,
        op,
        TimespecIn::Off,
        value,
        &ts,
        theirs,
    );
}

#[test]
fn io_uring_prep_poll_add() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let events = (libc::POLLIN | libc::POLLRDHUP) as u32;
    let theirs = Sqe {
        opcode: sys::IORING_OP_POLL_ADD,
        fd: fd(&socket),
        op_flags: events,
        ..ZERO
    };
    let op = PollAdd::new(&socket, PollEvents::IN | PollEvents::RDHUP);
    assert_op("io_uring_prep_poll_add", &mut ring, op, theirs);
    // Level-triggered has no helper: `sqe->len`.
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 3,
        len: sys::IORING_POLL_ADD_LEVEL,
        ..theirs
    };
    let op = PollAdd::new(files.get(3).unwrap(), PollEvents::IN | PollEvents::RDHUP)
        .poll_flags(PollFlags::LEVEL);
    assert_op(
        "io_uring_prep_poll_add, IORING_POLL_ADD_LEVEL, fixed",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_poll_multishot() {
    let mut ring = ring();
    let socket = udp();
    let theirs = Sqe {
        opcode: sys::IORING_OP_POLL_ADD,
        fd: fd(&socket),
        len: sys::IORING_POLL_ADD_MULTI,
        op_flags: libc::POLLOUT as u32,
        ..ZERO
    };
    let op = PollAdd::new(&socket, PollEvents::OUT).poll_flags(PollFlags::MULTI);
    assert_op("io_uring_prep_poll_multishot", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_poll_remove() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_POLL_REMOVE,
        fd: -1,
        addr: 0x77,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_poll_remove(0x77)",
        &mut ring,
        PollRemove::new(0x77),
        theirs,
    );
}

#[test]
fn io_uring_prep_poll_update() {
    let mut ring = ring();
    let update = |new_user_data, events, flags| Sqe {
        opcode: sys::IORING_OP_POLL_REMOVE,
        fd: -1,
        off: new_user_data,
        addr: 0x77,
        len: flags,
        op_flags: events,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_poll_update(0x77, 0, 0, 0)",
        &mut ring,
        PollUpdate::new(0x77),
        update(0, 0, 0),
    );
    assert_op(
        "io_uring_prep_poll_update(0x77, 0, POLLOUT, IORING_POLL_UPDATE_EVENTS)",
        &mut ring,
        PollUpdate::new(0x77).events(PollEvents::OUT),
        update(0, libc::POLLOUT as u32, sys::IORING_POLL_UPDATE_EVENTS),
    );
    assert_op(
        "io_uring_prep_poll_update(0x77, 0x88, 0, IORING_POLL_UPDATE_USER_DATA)",
        &mut ring,
        PollUpdate::new(0x77).new_user_data(0x88),
        update(0x88, 0, sys::IORING_POLL_UPDATE_USER_DATA),
    );
    assert_op(
        "io_uring_prep_poll_update(0x77, 0x88, POLLIN, EVENTS | USER_DATA | IORING_POLL_ADD_MULTI)",
        &mut ring,
        PollUpdate::new(0x77)
            .events(PollEvents::IN)
            .new_user_data(0x88)
            .poll_flags(PollFlags::MULTI),
        update(
            0x88,
            libc::POLLIN as u32,
            sys::IORING_POLL_UPDATE_EVENTS
                | sys::IORING_POLL_UPDATE_USER_DATA
                | sys::IORING_POLL_ADD_MULTI,
        ),
    );
}

/// An epoll instance.
fn epoll() -> OwnedFd {
    // SAFETY: epoll_create1 takes a flag.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
        fd >= 0,
        "epoll_create1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the descriptor was just created and is owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[test]
fn io_uring_prep_epoll_ctl() {
    let mut ring = ring();
    let epoll = epoll();
    let socket = udp();
    let event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 42,
    };
    let theirs = Sqe {
        opcode: sys::IORING_OP_EPOLL_CTL,
        fd: fd(&epoll),
        off: u64::from(fd(&socket) as u32),
        addr: ptr(&event),
        len: libc::EPOLL_CTL_ADD as u32,
        ..ZERO
    };
    let op = EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, &socket, &event);
    assert_op("io_uring_prep_epoll_ctl", &mut ring, op, theirs);
}

#[test]
fn io_uring_prep_epoll_wait() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let epoll = epoll();
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
    let theirs = Sqe {
        opcode: sys::IORING_OP_EPOLL_WAIT,
        fd: fd(&epoll),
        addr: ptr(&events),
        len: 8,
        ..ZERO
    };
    let op = EpollWait::new(&epoll, &mut events[..]);
    assert_op(
        "io_uring_prep_epoll_wait(fd, events, 8, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE,
        fd: 2,
        ..theirs
    };
    let op = EpollWait::new(files.get(2).unwrap(), &mut events[..]);
    assert_op(
        "io_uring_prep_epoll_wait(2, events, 8, 0), fixed",
        &mut ring,
        op,
        theirs,
    );
}

/// The futex flags of liburing's helpers (`futex_flags`, in `fd`) carry
/// the word size; the op's word is 32 bits.
#[test]
fn io_uring_prep_futex_wait() {
    let mut ring = ring();
    let word = AtomicU32::new(5);
    let theirs = Sqe {
        opcode: sys::IORING_OP_FUTEX_WAIT,
        fd: sys::FUTEX2_SIZE_U32 as i32,
        off: 5,
        addr: ptr(&word),
        addr3: u64::from(u32::MAX),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_futex_wait(&word, 5, FUTEX_BITSET_MATCH_ANY, FUTEX2_SIZE_U32, 0)",
        &mut ring,
        FutexWait::new(&word, 5),
        theirs,
    );
    let theirs = Sqe {
        fd: (sys::FUTEX2_SIZE_U32 | sys::FUTEX2_PRIVATE) as i32,
        addr3: 0b1010,
        ..theirs
    };
    let op = FutexWait::new(&word, 5)
        .mask(0b1010)
        .futex_flags(FutexFlags::PRIVATE);
    assert_op(
        "io_uring_prep_futex_wait(&word, 5, 0b1010, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE, 0)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_futex_wake() {
    let mut ring = ring();
    let word = AtomicU32::new(0);
    let theirs = Sqe {
        opcode: sys::IORING_OP_FUTEX_WAKE,
        fd: sys::FUTEX2_SIZE_U32 as i32,
        off: 3,
        addr: ptr(&word),
        addr3: u64::from(u32::MAX),
        ..ZERO
    };
    assert_op(
        "io_uring_prep_futex_wake(&word, 3, FUTEX_BITSET_MATCH_ANY, FUTEX2_SIZE_U32, 0)",
        &mut ring,
        FutexWake::new(&word, 3),
        theirs,
    );
    let theirs = Sqe {
        fd: (sys::FUTEX2_SIZE_U32 | sys::FUTEX2_PRIVATE) as i32,
        addr3: 0b0110,
        ..theirs
    };
    let op = FutexWake::new(&word, 3)
        .mask(0b0110)
        .futex_flags(FutexFlags::PRIVATE);
    assert_op(
        "io_uring_prep_futex_wake(&word, 3, 0b0110, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE, 0)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_futex_waitv() {
    let mut ring = ring();
    let (a, b) = (AtomicU32::new(0), AtomicU32::new(1));
    let futexes = [
        FutexWaitV::new(&a, 0, FutexFlags::empty()),
        FutexWaitV::new(&b, 1, FutexFlags::PRIVATE),
    ];
    let theirs = Sqe {
        opcode: sys::IORING_OP_FUTEX_WAITV,
        addr: ptr(&futexes),
        len: 2,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_futex_waitv(futexes, 2, 0)",
        &mut ring,
        FutexWaitv::new(&futexes),
        theirs,
    );
}

#[test]
fn io_uring_prep_waitid() {
    let mut ring = ring();
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { mem::zeroed() };
    let theirs = Sqe {
        opcode: sys::IORING_OP_WAITID,
        fd: 1234,
        off: ptr(&info),
        len: libc::P_PID,
        file_index: libc::WEXITED as u32,
        ..ZERO
    };
    let op = WaitId::new(WaitIdTarget::pid(1234), libc::WEXITED, &mut info);
    assert_op(
        "io_uring_prep_waitid(P_PID, 1234, &info, WEXITED, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        fd: 0,
        len: libc::P_ALL,
        file_index: (libc::WEXITED | libc::WNOHANG) as u32,
        ..theirs
    };
    let op = WaitId::new(
        WaitIdTarget::all(),
        libc::WEXITED | libc::WNOHANG,
        &mut info,
    );
    assert_op(
        "io_uring_prep_waitid(P_ALL, 0, &info, WEXITED | WNOHANG, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        fd: 77,
        len: libc::P_PGID,
        file_index: libc::WSTOPPED as u32,
        ..theirs
    };
    let op = WaitId::new(WaitIdTarget::pgid(77), libc::WSTOPPED, &mut info);
    assert_op(
        "io_uring_prep_waitid(P_PGID, 77, &info, WSTOPPED, 0)",
        &mut ring,
        op,
        theirs,
    );
    // The SQE carries the descriptor's number, whatever it names (the op
    // is never submitted; valgrind, which runs this suite too, has no
    // pidfd_open).
    let pidfd = tempfile();
    let theirs = Sqe {
        fd: fd(&pidfd),
        len: libc::P_PIDFD,
        file_index: libc::WEXITED as u32,
        ..theirs
    };
    let op = WaitId::new(WaitIdTarget::pidfd(pidfd.as_fd()), libc::WEXITED, &mut info);
    assert_op(
        "io_uring_prep_waitid(P_PIDFD, pidfd, &info, WEXITED, 0)",
        &mut ring,
        op,
        theirs,
    );
}

// ---------------------------------------------------------------------------
// Ops on other ops, and on other rings.
// ---------------------------------------------------------------------------

#[test]
fn io_uring_prep_cancel64() {
    let mut ring = ring();
    for (flags, bits) in [
        (CancelFlags::empty(), 0),
        (CancelFlags::ALL, sys::IORING_ASYNC_CANCEL_ALL),
        (CancelFlags::ANY, sys::IORING_ASYNC_CANCEL_ANY),
    ] {
        let theirs = Sqe {
            opcode: sys::IORING_OP_ASYNC_CANCEL,
            fd: -1,
            addr: 0xabcd,
            op_flags: bits,
            ..ZERO
        };
        let op = Cancel::new(0xabcd).cancel_flags(flags);
        assert_op(
            "io_uring_prep_cancel64(0xabcd, flags)",
            &mut ring,
            op,
            theirs,
        );
    }
}

/// With a fixed file, a caller of liburing adds
/// `IORING_ASYNC_CANCEL_FD_FIXED` to the flags (no `IOSQE_FIXED_FILE`).
#[test]
fn io_uring_prep_cancel_fd() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let theirs = Sqe {
        opcode: sys::IORING_OP_ASYNC_CANCEL,
        fd: fd(&socket),
        op_flags: sys::IORING_ASYNC_CANCEL_FD,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_cancel_fd(fd, 0)",
        &mut ring,
        CancelFd::new(&socket),
        theirs,
    );
    let theirs = Sqe {
        op_flags: sys::IORING_ASYNC_CANCEL_FD | sys::IORING_ASYNC_CANCEL_ALL,
        ..theirs
    };
    let op = CancelFd::new(&socket).cancel_flags(CancelFlags::ALL);
    assert_op(
        "io_uring_prep_cancel_fd(fd, IORING_ASYNC_CANCEL_ALL)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        opcode: sys::IORING_OP_ASYNC_CANCEL,
        fd: 3,
        op_flags: sys::IORING_ASYNC_CANCEL_FD | sys::IORING_ASYNC_CANCEL_FD_FIXED,
        ..ZERO
    };
    let op = CancelFd::new(files.get(3).unwrap());
    assert_op(
        "io_uring_prep_cancel_fd(3, IORING_ASYNC_CANCEL_FD_FIXED)",
        &mut ring,
        op,
        theirs,
    );
}

/// liburing has no helper: `io_uring_prep_cancel64(sqe, 0,
/// IORING_ASYNC_CANCEL_OP | flags)`, then the opcode in `sqe->len`, as the
/// kernel reads it.
#[test]
fn io_uring_prep_cancel64_opcode() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_ASYNC_CANCEL,
        fd: -1,
        len: u32::from(sys::IORING_OP_READ),
        op_flags: sys::IORING_ASYNC_CANCEL_OP,
        ..ZERO
    };
    let op = CancelOp::new(CancelOpcode::of::<Read<'_>>());
    assert_op(
        "io_uring_prep_cancel64(0, IORING_ASYNC_CANCEL_OP), len = IORING_OP_READ",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        len: u32::from(sys::IORING_OP_POLL_ADD),
        op_flags: sys::IORING_ASYNC_CANCEL_OP | sys::IORING_ASYNC_CANCEL_ALL,
        ..theirs
    };
    let op =
        CancelOp::new(CancelOpcode::code(sys::IORING_OP_POLL_ADD)).cancel_flags(CancelFlags::ALL);
    assert_op(
        "io_uring_prep_cancel64(0, IORING_ASYNC_CANCEL_OP | ALL), len = IORING_OP_POLL_ADD",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_msg_ring() {
    let mut ring = ring();
    let target = self::ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_MSG_RING,
        fd: target.as_raw_fd(),
        off: 0x1122_3344_5566_7788,
        addr: sys::IORING_MSG_DATA,
        len: -5i32 as u32,
        ..ZERO
    };
    let op = MsgRing::new(&target, -5, 0x1122_3344_5566_7788);
    assert_op(
        "io_uring_prep_msg_ring(fd, -5, data, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        op_flags: sys::IORING_MSG_RING_CQE_SKIP,
        ..theirs
    };
    let op =
        MsgRing::new(&target, -5, 0x1122_3344_5566_7788).msg_ring_flags(MsgRingFlags::CQE_SKIP);
    assert_op(
        "io_uring_prep_msg_ring(fd, -5, data, IORING_MSG_RING_CQE_SKIP)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_msg_ring_cqe_flags() {
    let mut ring = ring();
    let target = self::ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_MSG_RING,
        fd: target.as_raw_fd(),
        off: 9,
        addr: sys::IORING_MSG_DATA,
        len: 17,
        op_flags: sys::IORING_MSG_RING_FLAGS_PASS,
        file_index: sys::IORING_CQE_F_MORE,
        ..ZERO
    };
    let op = MsgRing::new(&target, 17, 9).cqe_flags(sys::IORING_CQE_F_MORE);
    assert_op(
        "io_uring_prep_msg_ring_cqe_flags(fd, 17, 9, 0, IORING_CQE_F_MORE)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        op_flags: sys::IORING_MSG_RING_FLAGS_PASS | sys::IORING_MSG_RING_CQE_SKIP,
        ..theirs
    };
    let op = MsgRing::new(&target, 17, 9)
        .cqe_flags(sys::IORING_CQE_F_MORE)
        .msg_ring_flags(MsgRingFlags::CQE_SKIP);
    assert_op(
        "io_uring_prep_msg_ring_cqe_flags(fd, 17, 9, IORING_MSG_RING_CQE_SKIP, IORING_CQE_F_MORE)",
        &mut ring,
        op,
        theirs,
    );
}

/// The source is a fixed file of this ring, by index (no
/// `IOSQE_FIXED_FILE`); the target slot is index + 1.
#[test]
fn io_uring_prep_msg_ring_fd() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let mut target = self::ring();
    let mut target_files = target.register_files_sparse(8).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_MSG_RING,
        fd: target.as_raw_fd(),
        off: 0x55,
        addr: sys::IORING_MSG_SEND_FD,
        file_index: 6 + 1,
        addr3: 3,
        ..ZERO
    };
    let dest = RingSlot::at(&target, target_files.get_mut(6).unwrap()).unwrap();
    let op = MsgRingFd::new(dest, files.get(3).unwrap(), 0x55);
    assert_op(
        "io_uring_prep_msg_ring_fd(fd, 3, 6, 0x55, 0)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_msg_ring_fd_alloc() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let target = self::ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_MSG_RING,
        fd: target.as_raw_fd(),
        off: 0x55,
        addr: sys::IORING_MSG_SEND_FD,
        op_flags: sys::IORING_MSG_RING_CQE_SKIP,
        file_index: sys::IORING_FILE_INDEX_ALLOC,
        addr3: 3,
        ..ZERO
    };
    let op = MsgRingFd::new(RingSlot::alloc(&target), files.get(3).unwrap(), 0x55)
        .msg_ring_flags(MsgRingFlags::CQE_SKIP);
    assert_op(
        "io_uring_prep_msg_ring_fd_alloc(fd, 3, 0x55, IORING_MSG_RING_CQE_SKIP)",
        &mut ring,
        op,
        theirs,
    );
}

// ---------------------------------------------------------------------------
// Buffers and memory.
// ---------------------------------------------------------------------------

#[test]
fn io_uring_prep_provide_buffers() {
    let mut ring = ring();
    let mut region = vec![0u8; 1000];
    let at = ptr(&region[0]);
    let theirs = Sqe {
        opcode: sys::IORING_OP_PROVIDE_BUFFERS,
        fd: 15,
        addr: at,
        len: 64,
        buf_index: 7,
        ..ZERO
    };
    let op = ProvideBuffers::new(BufferPool::new(&mut region, 64), BufferGroup::new(7));
    assert_op(
        "io_uring_prep_provide_buffers(addr, 64, 15, 7, 0)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe { off: 10, ..theirs };
    let op =
        ProvideBuffers::new(BufferPool::new(&mut region, 64), BufferGroup::new(7)).start_id(10);
    assert_op(
        "io_uring_prep_provide_buffers(addr, 64, 15, 7, 10)",
        &mut ring,
        op,
        theirs,
    );
}

#[test]
fn io_uring_prep_remove_buffers() {
    let mut ring = ring();
    let theirs = Sqe {
        opcode: sys::IORING_OP_REMOVE_BUFFERS,
        fd: 4,
        buf_index: 7,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_remove_buffers(4, 7)",
        &mut ring,
        RemoveBuffers::new(4, BufferGroup::new(7)),
        theirs,
    );
}

#[test]
fn io_uring_prep_madvise() {
    let mut ring = ring();
    let mut page = vec![0u8; 8192];
    let at = page.as_mut_ptr();
    // SAFETY: the op is never submitted: no advice is applied.
    let range = unsafe { MadviseRange::new(at, 4096) };
    let theirs = Sqe {
        opcode: sys::IORING_OP_MADVISE,
        fd: -1,
        addr: at as u64,
        len: 4096,
        op_flags: libc::MADV_DONTNEED as u32,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_madvise(addr, 4096, MADV_DONTNEED)",
        &mut ring,
        Madvise::new(range, libc::MADV_DONTNEED),
        theirs,
    );
}

/// A length beyond 32 bits goes to `off`, as `io_uring_prep_madvise64`
/// writes it.
#[test]
fn io_uring_prep_madvise64() {
    let mut ring = ring();
    let mut page = vec![0u8; 8192];
    let at = page.as_mut_ptr();
    // SAFETY: the op is never submitted: no advice is applied.
    let range = unsafe { MadviseRange::new(at, 5 << 32) };
    let theirs = Sqe {
        opcode: sys::IORING_OP_MADVISE,
        fd: -1,
        off: 5 << 32,
        addr: at as u64,
        op_flags: libc::MADV_WILLNEED as u32,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_madvise64(addr, 5 << 32, MADV_WILLNEED)",
        &mut ring,
        Madvise::new(range, libc::MADV_WILLNEED),
        theirs,
    );
}

// ---------------------------------------------------------------------------
// Coverage.
// ---------------------------------------------------------------------------

/// Every op of the table is built, pushed and compared by a test of this
/// file (its name, as a whole word, followed by `::new(`).
#[test]
fn every_op_of_the_table_is_compared() {
    let source = include_str!("sqe_bytes.rs");
    let built = |name: &str| {
        let call = format!("{name}::new(");
        source.match_indices(&call).any(|(at, _)| {
            let before = source[..at].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    let missing: Vec<&str> = uring::ops::ALL
        .iter()
        .map(|op| op.name)
        .filter(|name| !built(name))
        .collect();
    assert!(
        missing.is_empty(),
        "ops without an SQE comparison: {missing:?}"
    );
}

// ---------------------------------------------------------------------------
// NOPs that look up a file or a buffer (no liburing helper: test/nop-flags.c
// writes `sqe->nop_flags`, `sqe->fd`, `sqe->buf_index` after
// `io_uring_prep_nop`).
// ---------------------------------------------------------------------------

/// `io_uring_prep_nop`, then `sqe->nop_flags = IORING_NOP_FIXED_BUFFER`
/// and `sqe->buf_index`; with `IORING_NOP_TW` or-ed in; then every flag a
/// plain NOP takes at once (`sqe->len` the injected result, `sqe->off` and
/// `sqe->addr` the big CQE's words).
#[test]
fn io_uring_prep_nop_fixed_buffer() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        fd: -1,
        op_flags: sys::IORING_NOP_FIXED_BUFFER,
        buf_index: 1,
        ..ZERO
    };
    let op = Nop::new().buffer(bufs.get(1).unwrap());
    assert_op("io_uring_prep_nop, FIXED_BUFFER", &mut ring, op, theirs);
    let theirs = Sqe {
        op_flags: sys::IORING_NOP_FIXED_BUFFER | sys::IORING_NOP_TW,
        ..theirs
    };
    let op = Nop::new().buffer(bufs.get(1).unwrap()).task_work(true);
    assert_op(
        "io_uring_prep_nop, FIXED_BUFFER | TW",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        fd: -1,
        len: -libc::EIO as u32,
        off: 0x1111_2222_3333_4444,
        addr: 0x5555_6666_7777_8888,
        op_flags: sys::IORING_NOP_INJECT_RESULT
            | sys::IORING_NOP_CQE32
            | sys::IORING_NOP_FIXED_BUFFER
            | sys::IORING_NOP_TW,
        ..ZERO
    };
    let op = Nop::new()
        .result(-libc::EIO)
        .big_cqe([0x1111_2222_3333_4444, 0x5555_6666_7777_8888])
        .buffer(bufs.get(0).unwrap())
        .task_work(true);
    assert_op(
        "io_uring_prep_nop, INJECT_RESULT | CQE32 | FIXED_BUFFER | TW",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        fd: -1,
        op_flags: sys::IORING_NOP_TW,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_nop, TW",
        &mut ring,
        Nop::new().task_work(true),
        theirs,
    );
}

/// `io_uring_prep_nop`, then `sqe->nop_flags = IORING_NOP_FILE` and
/// `sqe->fd` the descriptor: no `IOSQE_FIXED_FILE` (which with
/// `IORING_NOP_FILE` alone made kernels keep the file's reference,
/// nop-fixed-file-leak.c).
#[test]
fn io_uring_prep_nop_file() {
    let mut ring = ring();
    let file = tempfile();
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        fd: fd(&file),
        op_flags: sys::IORING_NOP_FILE,
        ..ZERO
    };
    assert_op(
        "io_uring_prep_nop, FILE",
        &mut ring,
        NopFile::new(&file),
        theirs,
    );
    let theirs = Sqe {
        len: 42,
        op_flags: sys::IORING_NOP_FILE | sys::IORING_NOP_INJECT_RESULT | sys::IORING_NOP_TW,
        user_data: 7,
        ..theirs
    };
    let op = NopFile::new(&file).result(42).task_work(true).user_data(7);
    assert_op(
        "io_uring_prep_nop, FILE | INJECT_RESULT | TW",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_nop`, then `sqe->nop_flags = IORING_NOP_FILE |
/// IORING_NOP_FIXED_FILE` and `sqe->fd` the slot, which is where the kernel
/// takes a NOP's fixed file from; and `IOSQE_FIXED_FILE` by
/// `io_uring_sqe_set_flags`, which a fixed target sets for every op (the
/// kernel's NOP does not read it: nop-flags.c leaves it out). Then with a
/// registered buffer and every other flag at once.
#[test]
fn io_uring_prep_nop_fixed_file() {
    let mut region = [0u8; 4096];
    let mut ring = ring();
    // SAFETY: `region` is declared before the ring, so it outlives it.
    let bufs = unsafe { register_two_buffers(&mut ring, &mut region) };
    let files = ring.register_files_sparse(8).unwrap();
    let theirs = Sqe {
        opcode: sys::IORING_OP_NOP,
        flags: sys::IOSQE_FIXED_FILE,
        fd: 3,
        op_flags: sys::IORING_NOP_FILE | sys::IORING_NOP_FIXED_FILE,
        ..ZERO
    };
    let op = NopFile::new(files.get(3).unwrap());
    assert_op(
        "io_uring_prep_nop, FILE | FIXED_FILE",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_FIXED_FILE | sys::IOSQE_IO_DRAIN,
        fd: 5,
        len: 9,
        off: 0xdead_beef_1234_5678,
        addr: 0xabcd_ef00_1122_3344,
        op_flags: sys::IORING_NOP_FILE
            | sys::IORING_NOP_FIXED_FILE
            | sys::IORING_NOP_INJECT_RESULT
            | sys::IORING_NOP_FIXED_BUFFER
            | sys::IORING_NOP_TW
            | sys::IORING_NOP_CQE32,
        buf_index: 1,
        ..theirs
    };
    let op = NopFile::new(files.get(5).unwrap())
        .result(9)
        .buffer(bufs.get(1).unwrap())
        .task_work(true)
        .big_cqe([0xdead_beef_1234_5678, 0xabcd_ef00_1122_3344])
        .flags(SqeFlags::IO_DRAIN);
    assert_op(
        "io_uring_prep_nop, every NOP flag, fixed file",
        &mut ring,
        op,
        theirs,
    );
}

// ---------------------------------------------------------------------------
// READV and RECVMSG selecting a provided buffer (liburing's helpers, then
// `sqe->flags |= IOSQE_BUFFER_SELECT; sqe->buf_group = g;`).
// ---------------------------------------------------------------------------

/// `io_uring_prep_readv(sqe, fd, &iov, 1, off)`, then
/// `IOSQE_BUFFER_SELECT` and `sqe->buf_group`: `addr` is the iovec the op
/// borrows, `len` 1; with `rw_flags`, `ioprio` and a fixed file too.
#[test]
fn io_uring_prep_readv_buffer_select() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let file = tempfile();
    let cap = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 100,
    };
    let theirs = Sqe {
        opcode: sys::IORING_OP_READV,
        flags: sys::IOSQE_BUFFER_SELECT,
        fd: fd(&file),
        off: 12,
        addr: ptr(&cap),
        len: 1,
        buf_index: 7,
        ..ZERO
    };
    let op = ReadVSelect::new(&file, &cap, BufferGroup::new(7)).offset(12);
    assert_op("io_uring_prep_readv, buffer select", &mut ring, op, theirs);
    let theirs = Sqe {
        flags: sys::IOSQE_BUFFER_SELECT | sys::IOSQE_FIXED_FILE | sys::IOSQE_ASYNC,
        ioprio: 1 << 13,
        fd: 4,
        off: u64::MAX,
        op_flags: libc::RWF_NOWAIT as u32,
        buf_index: 0xffff,
        ..theirs
    };
    let op = ReadVSelect::new(files.get(4).unwrap(), &cap, BufferGroup::new(0xffff))
        .offset(u64::MAX)
        .rw_flags(RwFlags::NOWAIT)
        .ioprio(1 << 13)
        .flags(SqeFlags::ASYNC);
    assert_op(
        "io_uring_prep_readv, buffer select, rw_flags, ioprio, fixed",
        &mut ring,
        op,
        theirs,
    );
}

/// `io_uring_prep_recvmsg(sqe, fd, &msg, flags)`, then
/// `IOSQE_BUFFER_SELECT` and `sqe->buf_group`; with
/// `IORING_RECVSEND_POLL_FIRST` and a fixed file too.
#[test]
fn io_uring_prep_recvmsg_buffer_select() {
    let mut ring = ring();
    let files = ring.register_files_sparse(8).unwrap();
    let socket = udp();
    let mut from = SockAddrBuf::new();
    let mut control = [0u8; 64];
    let mut msg = MsgHdrMut::new(&mut [])
        .from(&mut from)
        .control(&mut control);
    let at = msghdr_ptr(&msg);
    let theirs = Sqe {
        opcode: sys::IORING_OP_RECVMSG,
        flags: sys::IOSQE_BUFFER_SELECT,
        fd: fd(&socket),
        addr: at,
        len: 1,
        op_flags: libc::MSG_CMSG_CLOEXEC as u32,
        buf_index: 3,
        ..ZERO
    };
    let op = RecvMsgSelect::new(&socket, &mut msg, BufferGroup::new(3))
        .msg_flags(MsgFlags::CMSG_CLOEXEC);
    assert_op(
        "io_uring_prep_recvmsg, buffer select",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        flags: sys::IOSQE_BUFFER_SELECT | sys::IOSQE_FIXED_FILE,
        ioprio: sys::IORING_RECVSEND_POLL_FIRST,
        fd: 2,
        op_flags: 0,
        ..theirs
    };
    let op = RecvMsgSelect::new(files.get(2).unwrap(), &mut msg, BufferGroup::new(3))
        .recv_flags(SendFlags::POLL_FIRST);
    assert_op(
        "io_uring_prep_recvmsg, buffer select, IORING_RECVSEND_POLL_FIRST, fixed",
        &mut ring,
        op,
        theirs,
    );
}

/// liburing's `io_uring_prep_symlink`: `symlinkat` in the working
/// directory.
#[test]
fn io_uring_prep_symlink() {
    let mut ring = ring();
    let (target, link) = (c"target", c"link");
    let theirs = Sqe {
        opcode: sys::IORING_OP_SYMLINKAT,
        fd: AT_FDCWD,
        off: cstr(link),
        addr: cstr(target),
        ..ZERO
    };
    let op = SymlinkAt::new(Fd::CWD, target, link);
    assert_op("io_uring_prep_symlink", &mut ring, op, theirs);
}

/// liburing's `io_uring_prep_link`: `linkat` with both directories the
/// working one.
#[test]
fn io_uring_prep_link() {
    let mut ring = ring();
    let (old, new) = (c"old", c"new");
    let theirs = Sqe {
        opcode: sys::IORING_OP_LINKAT,
        fd: AT_FDCWD,
        off: cstr(new),
        addr: cstr(old),
        len: AT_FDCWD as u32,
        op_flags: libc::AT_SYMLINK_FOLLOW as u32,
        ..ZERO
    };
    let op = LinkAt::new(Fd::CWD, old, Fd::CWD, new).hardlink_flags(libc::AT_SYMLINK_FOLLOW);
    assert_op("io_uring_prep_link", &mut ring, op, theirs);
}

/// liburing's `io_uring_prep_open` and `io_uring_prep_open_direct`:
/// `openat` (direct) in the working directory.
#[test]
fn io_uring_prep_open_and_open_direct() {
    let mut ring = ring();
    let mut files = ring.register_files_sparse(4).unwrap();
    let path = c"some/file";
    let flags = libc::O_RDWR | libc::O_CREAT;
    let theirs = Sqe {
        opcode: sys::IORING_OP_OPENAT,
        fd: AT_FDCWD,
        addr: cstr(path),
        len: 0o600,
        op_flags: flags as u32,
        ..ZERO
    };
    let op = OpenAt::new(Fd::CWD, path).open_flags(flags).mode(0o600);
    assert_op(
        "io_uring_prep_open(path, O_RDWR | O_CREAT, 0600)",
        &mut ring,
        op,
        theirs,
    );
    let theirs = Sqe {
        file_index: 1 + 1,
        ..theirs
    };
    let op = OpenAt::new(Fd::CWD, path)
        .open_flags(flags)
        .mode(0o600)
        .direct(DirectSlot::at(files.get_mut(1).unwrap()));
    assert_op("io_uring_prep_open_direct(.., 1)", &mut ring, op, theirs);
}

/// liburing's `io_uring_prep_cancel`: the `user_data` given as a pointer.
#[test]
fn io_uring_prep_cancel() {
    let mut ring = ring();
    let target = 0u64;
    let user_data = ptr(&target);
    let theirs = Sqe {
        opcode: sys::IORING_OP_ASYNC_CANCEL,
        fd: -1,
        addr: user_data,
        op_flags: sys::IORING_ASYNC_CANCEL_ALL,
        ..ZERO
    };
    let op = Cancel::new(user_data).cancel_flags(CancelFlags::ALL);
    assert_op("io_uring_prep_cancel(ptr, ALL)", &mut ring, op, theirs);
}
