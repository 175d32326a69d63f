//! Gap audit of the ops a program declares itself with `uring::ops!`
//! (`uring-macros/src`: `parse.rs`, `validate.rs`, `expand/mod.rs`,
//! `expand/sqe.rs`, `expand/traits.rs`, `expand/arbitrary.rs`), of the
//! field conversions they are built from (`uring/src/op/field.rs`,
//! `uring/src/op/mod.rs`) and of the `arbitrary-ops` builders
//! (`uring/src/op/arbitrary`), beside what `attacks_user_ops_source_audit.rs`,
//! `attacks_typestate.rs`, `sqe_bytes.rs` and `prop_ops.rs` already cover.
//!
//! Read against Linux 6.18: `io_uring/rw.c` (`io_prep_rw` takes `addr`,
//! `len`, `off`, `rw_flags`, `ioprio`; the target from `sqe->fd`, a fixed
//! one only with `IOSQE_FIXED_FILE`, `io_uring.c: io_assign_file`),
//! `io_uring/timeout.c` (`__io_timeout_prep` copies the timespec at `addr`
//! while the SQE is consumed; `io_link_timeout_prep`), `io_uring/net.c`
//! (`io_sendmsg_prep`: `ioprio` as `IORING_RECVSEND_*`, `msg_flags`),
//! `io_uring/openclose.c` (`io_install_fixed_fd_prep` needs
//! `IOSQE_FIXED_FILE`; `io_close_prep` takes a slot from `file_index`),
//! `io_uring/kbuf.c` (`io_buffer_select`: `addr` zero, `len`, `buf_group`
//! with `IOSQE_BUFFER_SELECT`) and `io_uring/io_uring.c` (`io_init_req`,
//! the SQE flags byte, link chains, `io_req_task_link_timeout`).
//!
//! What it attacks:
//!
//! - the bytes of the SQE each argument form of the grammar writes
//!   (targets `fd`, `fd | fixed`, `fixed`, `owned | fixed(file_index)`;
//!   slices to `addr + len`; `| select` and `select`; `#[ring_owned]`
//!   timespecs; `impl Into<..>`; defaults and setters; `const` and
//!   `|field` or-ed writes; opcodes by kernel name, number and path),
//!   each compared byte for byte with the library's own op of the same
//!   opcode where it has one;
//! - the typestate the generated code gives such ops: the fixed-file bit
//!   from the target's type alone, the link bits of chains (a user's
//!   `#[after_link]` op as the library's link timeout), the registered
//!   files of another ring refused for targets and for arguments, scopes
//!   that borrow their buffers until the last completion, also when the
//!   scope unwinds;
//! - the ops on the kernel, next to the library's (NOP, READ, WRITE,
//!   TIMEOUT, SEND, buffer selection, link timeouts, a ring-owned timespec
//!   whose SQ slot is reused);
//! - every op of `uring::ops::ALL` and of this file's table built from
//!   arbitrary values (`arbitrary-ops`): no panic, and no SQE bit the op's
//!   type does not allow.
//!
//! What cannot be written here (no ui cases in this suite), and would be
//! worth a case in `ui-tests`: a user op with no lifetime but a `fd`
//! target given to `Ring::push` (refused: it is not `Unborrowed`), a user
//! op with `#[retains_memory]` lent to a scope (refused: not `Scoped`), a
//! user `#[after_link]` op pushed alone or linked with `.link` (refused),
//! `fd | owned` targets (refused by `validate.rs`). And a table in a crate
//! that turns `arbitrary-ops` on cannot declare an argument of type
//! `usize`, `i64`, `&'static [u8]` or a slice of any element but `u8`,
//! `IoSlice` and `epoll_event`, although `SqeField` takes them: they have
//! no `Arbitrary` impl, and the orphan rule keeps the program from writing
//! one (README, "Declaring an op", says only a type of the program's own
//! needs one).

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use uring::op::arbitrary::{Base, Context, Gen, Kind, Site, Visit};
use uring::op::{AfterLink, FitsSqe, OpInfo, Prepare};
use uring::ops::{
    Close, FixedFdInstall, LinkTimeout, Nop, Read, ReadMultishot, Send, Timeout, TimeoutRemove,
    Write,
};
use uring::{
    BufferGroup, FixedBuf, FixedMut, InstallFlags, MsgFlags, PushErrorKind, Ring, RwFlags, Scoped,
    SocketFd, Sqe64, Sqe128, SqeFlags, Submission, TimeoutFlags, Timespec, sys,
};
use uring_tests::{PATIENCE, pattern, pipe, require_kernel, submit_and_reap};

/// What a buffer holds before the kernel is given it.
const CANARY: u8 = 0xC3;

/// The opcode of a kernel that has none: an op of this file that is never
/// submitted uses it, so that a mistake that submits it fails at once.
const NEVER: u8 = 251;

// A program's own op table: every form of the grammar.
uring::ops! {
    #![list(pub const MINE)]

    /// NOP, again.
    #[since = "5.1"]
    pub unsafe struct MyNop = NOP {
        const fd = -1,
    }

    /// NOP by its number.
    #[since = "5.1"]
    pub unsafe struct NopByNumber = 0 {
        const fd = -1,
    }

    /// NOP by a path to its constant.
    #[since = "5.1"]
    pub unsafe struct NopByPath = sys::IORING_OP_NOP {
        const fd = -1,
    }

    /// A NOP that completes with `result` (`IORING_NOP_INJECT_RESULT`).
    #[since = "6.10"]
    pub unsafe struct MyInjectNop = NOP {
        const fd = -1,
        result: i32 => len,
        const nop_flags = sys::IORING_NOP_INJECT_RESULT,
    }

    /// READ, again: a buffer or a selection.
    #[since = "5.6"]
    pub unsafe struct MyRead<'a> = READ {
        target: fd | fixed,
        buf: &'a mut [u8] | select => addr + len,
        offset: u64 = 0 => off,
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
    }

    /// WRITE, again, its offset converted.
    #[since = "5.6"]
    pub unsafe struct MyWrite<'a> = WRITE {
        target: fd | fixed,
        buf: &'a [u8] => addr + len,
        offset: impl Into<u64> = 0u32 => off,
    }

    /// SEND, again, on a raw descriptor only.
    #[since = "5.6"]
    pub unsafe struct MySend<'a> = SEND {
        target: fd,
        buf: &'a [u8] => addr + len,
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
    }

    /// TIMEOUT, again, its timespec kept by the ring.
    #[since = "5.4"]
    pub unsafe struct MyTimeout = TIMEOUT {
        #[ring_owned]
        ts: Timespec => addr,
        const len = 1,
        count: u32 = 0 => off,
        timeout_flags: TimeoutFlags = TimeoutFlags::empty() => timeout_flags,
        const fd = -1,
    }

    /// LINK_TIMEOUT, again.
    #[since = "5.5"]
    #[after_link]
    pub unsafe struct MyLinkTimeout = LINK_TIMEOUT {
        #[ring_owned]
        ts: impl Into<Timespec> => addr,
        const len = 1,
        timeout_flags: TimeoutFlags = TimeoutFlags::empty() => timeout_flags,
        const fd = -1,
    }

    /// READ_MULTISHOT, again: always a provided buffer.
    #[since = "6.7"]
    pub unsafe struct MyReadMulti = READ_MULTISHOT {
        target: fd | fixed,
        group: select => addr + len,
        offset: u64 = 0 => off,
    }

    /// FIXED_FD_INSTALL, again: a registered file only.
    #[since = "6.8"]
    pub unsafe struct MyInstall = FIXED_FD_INSTALL {
        target: fixed,
        install_fd_flags: InstallFlags = InstallFlags::empty() => install_fd_flags,
    }

    /// CLOSE, again: an owned descriptor or a slot held exclusively.
    #[since = "5.6"]
    pub unsafe struct MyClose = CLOSE {
        target: owned | fixed(file_index),
    }

    /// A NOP that also names a registered file as an argument (the kernel
    /// reads nothing from `addr3` for a NOP).
    #[since = "5.1"]
    pub unsafe struct NopNamingAFile<'a> = NOP {
        const fd = -1,
        file: uring::Fixed<'a> => addr3,
    }

    /// Every plain form at once, on an opcode no kernel has (never
    /// submitted: see `NEVER`).
    #[since = "5.1"]
    pub unsafe struct Everything<'a> = self::NEVER {
        target: fd | fixed,
        buf: &'a [u8] => addr + len,
        at: impl Into<u64> = 7u32 => off,
        prio: u16 = 0x11 => ioprio,
        bits: u32 = 0 => |nop_flags,
        const |nop_flags = 0x100,
        index: u16 = 3 => buf_index,
        on: bool = true => file_index,
        word: u64 => addr3,
    }


    /// ASYNC_CANCEL by its number.
    #[since = "5.5"]
    pub unsafe struct CancelByNumber = 14 {
        target_user_data: u64 => addr,
        const fd = -1,
    }

    /// SEND_ZC, again: a completion, then a notification.
    #[since = "6.0"]
    pub unsafe struct MySendZc<'a> = SEND_ZC {
        target: fd,
        buf: &'a [u8] => addr + len,
    }

    /// PROVIDE_BUFFERS, again.
    #[since = "5.7"]
    #[retains_memory]
    pub unsafe struct MyProvide<'a> = PROVIDE_BUFFERS {
        pool: uring::BufferPool<'a> => addr + len + fd,
        group: BufferGroup => buf_group,
        start_id: u16 = 0 => off,
    }
}

// ---------------------------------------------------------------------
// The SQE as bytes.
// ---------------------------------------------------------------------

/// The 64 bytes of `sqe`.
fn raw(sqe: sys::io_uring_sqe) -> [u8; 64] {
    const _: () = assert!(std::mem::size_of::<sys::io_uring_sqe>() == 64);
    // SAFETY: `io_uring_sqe` is 64 bytes of plain integers without
    // padding (its layout is asserted in `sys`), and this copy was read
    // from the SQ array, whose bytes are all initialised.
    unsafe { std::mem::transmute::<sys::io_uring_sqe, [u8; 64]>(sqe) }
}

fn u16_at(b: &[u8; 64], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8; 64], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8; 64], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

fn put_u64(b: &mut [u8; 64], at: usize, value: u64) {
    b[at..at + 8].copy_from_slice(&value.to_ne_bytes());
}

const OPCODE: usize = 0;
const FLAGS: usize = 1;
const IOPRIO: usize = 2;
const FD: usize = 4;
const OFF: usize = 8;
const ADDR: usize = 16;
const LEN: usize = 24;
const OP_FLAGS: usize = 28;
const USER_DATA: usize = 32;
const BUF_INDEX: usize = 40;
const PERSONALITY: usize = 42;
const FILE_INDEX: usize = 44;
const ADDR3: usize = 48;
const PAD2: usize = 56;

/// A ring whose SQEs this file reads back and never submits.
fn ring() -> Ring {
    Ring::new(64).expect("a ring")
}

/// Pushes `op` on `ring` without submitting it, and returns the bytes of
/// the SQEs it wrote.
fn sqes_of<T: Submission>(ring: &mut Ring, op: T) -> Vec<[u8; 64]> {
    let before = ring.pending() as usize;
    // SAFETY: nothing pushed here is ever submitted (the tests that call
    // this never submit the ring), and the ring has no SQ thread: the
    // kernel never reads these SQEs, nor anything they name.
    let pushed = unsafe { ring.push_unchecked(op) };
    assert!(pushed.is_ok(), "room in the SQ");
    ring.pending_sqes().skip(before).map(raw).collect()
}

/// The one SQE `op` writes.
fn sqe_of<T: Submission>(ring: &mut Ring, op: T) -> [u8; 64] {
    let sqes = sqes_of(ring, op);
    assert_eq!(sqes.len(), 1);
    sqes[0]
}

/// The timespec at `addr` of a pushed, unsubmitted SQE of `ring`.
fn ring_owned(_ring: &Ring, addr: u64) -> (i64, i64) {
    assert_ne!(addr, 0, "the SQE points at a timespec");
    // SAFETY: `addr` was read from an SQE of `_ring` that is pushed and
    // not consumed (nothing is submitted): it is the address of the
    // timespec the ring keeps for that slot, alive with the ring, which
    // the borrow of `_ring` keeps.
    let ts = unsafe { (addr as *const sys::__kernel_timespec).read() };
    (ts.tv_sec, ts.tv_nsec)
}

/// A temporary file holding `bytes`.
fn file_of(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

/// `(user_data, res, flags)` of every completion a scope has ready.
fn drain(s: &mut uring::Scope<'_, '_>) -> Vec<(u64, i32, u32)> {
    s.completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect()
}

/// Waits in `s` until `n` completions have been read, within `PATIENCE`.
fn reap(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<(u64, i32, u32)> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    s.submit().unwrap();
    while got.len() < n && Instant::now() < deadline {
        let _ = s.wait_timeout(1, Duration::from_millis(50));
        got.extend(drain(s));
    }
    got.sort_unstable();
    got
}

/// The SQE flags a caller may set.
const CALLER_BITS: u8 = sys::IOSQE_IO_DRAIN | sys::IOSQE_ASYNC | sys::IOSQE_CQE_SKIP_SUCCESS;

// ---------------------------------------------------------------------
// Bytes.
// ---------------------------------------------------------------------

/// Each op of the table that re-declares a library op writes the SQE the
/// library's writes, byte for byte, for the same arguments: NOP (by name,
/// number and path), READ (raw and fixed targets, offset, flags), WRITE,
/// SEND, TIMEOUT (the timespec each points at holds the same value; the
/// addresses are the ring's, one per SQ slot), READ_MULTISHOT,
/// FIXED_FD_INSTALL, and the injected-result NOP.
#[test]
fn redeclared_ops_write_the_bytes_the_library_ops_write() {
    let mut ring = ring();
    let file = tempfile::tempfile().unwrap();
    let files = ring.register_files(&[file_fd(&file)]).unwrap();
    let fixed = files.get(0).unwrap();
    let mut a = [CANARY; 32];
    let data = pattern(48, 1);
    let (tx, _rx) = UnixStream::pair().unwrap();

    let pairs: Vec<(&str, [u8; 64], [u8; 64])> = vec![
        (
            "nop",
            sqe_of(&mut ring, MyNop::new().user_data(9)),
            sqe_of(&mut ring, Nop::new().user_data(9)),
        ),
        (
            "nop by number",
            sqe_of(&mut ring, NopByNumber::new().user_data(9)),
            sqe_of(&mut ring, Nop::new().user_data(9)),
        ),
        (
            "nop by path",
            sqe_of(&mut ring, NopByPath::new().user_data(9)),
            sqe_of(&mut ring, Nop::new().user_data(9)),
        ),
        (
            "inject",
            sqe_of(&mut ring, MyInjectNop::new(-libc::EPERM)),
            sqe_of(&mut ring, Nop::new().result(-libc::EPERM)),
        ),
        (
            "read",
            sqe_of(
                &mut ring,
                MyRead::new(&file, &mut a[..])
                    .offset(77)
                    .rw_flags(RwFlags::NOWAIT)
                    .user_data(5)
                    .flags(SqeFlags::ASYNC),
            ),
            sqe_of(
                &mut ring,
                Read::new(&file, &mut a[..])
                    .offset(77)
                    .rw_flags(RwFlags::NOWAIT)
                    .user_data(5)
                    .flags(SqeFlags::ASYNC),
            ),
        ),
        (
            "read fixed",
            sqe_of(&mut ring, MyRead::new(fixed, &mut a[..]).user_data(6)),
            sqe_of(&mut ring, Read::new(fixed, &mut a[..]).user_data(6)),
        ),
        (
            "write",
            sqe_of(&mut ring, MyWrite::new(&file, &data).offset(3u16)),
            sqe_of(&mut ring, Write::new(&file, &data).offset(3)),
        ),
        (
            "send",
            sqe_of(
                &mut ring,
                MySend::new(&tx, &data).msg_flags(MsgFlags::DONTWAIT),
            ),
            sqe_of(
                &mut ring,
                Send::new(&tx, &data).msg_flags(MsgFlags::DONTWAIT),
            ),
        ),
        (
            "read multishot",
            sqe_of(&mut ring, MyReadMulti::new(fixed, BufferGroup::new(4))),
            sqe_of(&mut ring, ReadMultishot::new(fixed, BufferGroup::new(4))),
        ),
        (
            "install",
            sqe_of(
                &mut ring,
                MyInstall::new(fixed).install_fd_flags(InstallFlags::NO_CLOEXEC),
            ),
            sqe_of(
                &mut ring,
                FixedFdInstall::new(fixed).install_fd_flags(InstallFlags::NO_CLOEXEC),
            ),
        ),
    ];
    for (what, ours, theirs) in pairs {
        assert_eq!(ours, theirs, "{what}: the user op's SQE differs");
    }

    let d = Duration::from_millis(1500);
    let mut ours = sqe_of(
        &mut ring,
        MyTimeout::new(Timespec::from(d))
            .count(2)
            .timeout_flags(TimeoutFlags::ETIME_SUCCESS),
    );
    let mut theirs = sqe_of(
        &mut ring,
        Timeout::new(d)
            .count(2)
            .timeout_flags(TimeoutFlags::ETIME_SUCCESS),
    );
    assert_ne!(
        u64_at(&ours, ADDR),
        u64_at(&theirs, ADDR),
        "one timespec per slot"
    );
    assert_eq!(ring_owned(&ring, u64_at(&ours, ADDR)), (1, 500_000_000));
    assert_eq!(ring_owned(&ring, u64_at(&theirs, ADDR)), (1, 500_000_000));
    put_u64(&mut ours, ADDR, 0);
    put_u64(&mut theirs, ADDR, 0);
    assert_eq!(ours, theirs, "timeout: the user op's SQE differs");
}

/// The descriptor of `file`, borrowed.
fn file_fd(file: &File) -> BorrowedFd<'_> {
    std::os::fd::AsFd::as_fd(file)
}

/// One op with every plain form of the grammar: each argument lands in
/// its field and nowhere else, defaults fill the rest, setters replace
/// them (through `impl Into` too), or-ed writes keep the constant's bit,
/// `bool` becomes 0 or 1, and the fields no argument names are zero.
#[test]
fn every_plain_argument_form_lands_in_its_field_alone() {
    let mut ring = ring();
    let file = tempfile::tempfile().unwrap();
    let bytes = pattern(40, 3);
    let fd = file.as_raw_fd();

    let sqe = sqe_of(&mut ring, Everything::new(&file, &bytes, 0xdead_beef));
    assert_eq!(sqe[OPCODE], NEVER);
    assert_eq!(sqe[FLAGS], 0);
    assert_eq!(u16_at(&sqe, IOPRIO), 0x11);
    assert_eq!(u32_at(&sqe, FD) as i32, fd);
    assert_eq!(u64_at(&sqe, OFF), 7);
    assert_eq!(u64_at(&sqe, ADDR), bytes.as_ptr() as u64);
    assert_eq!(u32_at(&sqe, LEN), 40);
    assert_eq!(u32_at(&sqe, OP_FLAGS), 0x100);
    assert_eq!(u64_at(&sqe, USER_DATA), 0);
    assert_eq!(u16_at(&sqe, BUF_INDEX), 3);
    assert_eq!(u16_at(&sqe, PERSONALITY), 0);
    assert_eq!(u32_at(&sqe, FILE_INDEX), 1);
    assert_eq!(u64_at(&sqe, ADDR3), 0xdead_beef);
    assert_eq!(u64_at(&sqe, PAD2), 0);

    let sqe = sqe_of(
        &mut ring,
        Everything::new(&file, &bytes[5..9], u64::MAX)
            .at(u32::MAX)
            .prio(0)
            .bits(0x3)
            .index(0)
            .on(false)
            .user_data(u64::MAX)
            .flags(SqeFlags::IO_DRAIN),
    );
    assert_eq!(sqe[FLAGS], sys::IOSQE_IO_DRAIN);
    assert_eq!(u16_at(&sqe, IOPRIO), 0);
    assert_eq!(u64_at(&sqe, OFF), u64::from(u32::MAX));
    assert_eq!(u64_at(&sqe, ADDR), bytes[5..].as_ptr() as u64);
    assert_eq!(u32_at(&sqe, LEN), 4);
    assert_eq!(
        u32_at(&sqe, OP_FLAGS),
        0x103,
        "the argument or-ed with the constant"
    );
    assert_eq!(u64_at(&sqe, USER_DATA), u64::MAX);
    assert_eq!(u16_at(&sqe, BUF_INDEX), 0);
    assert_eq!(u32_at(&sqe, FILE_INDEX), 0);
    assert_eq!(u64_at(&sqe, ADDR3), u64::MAX);
    assert_eq!(u64_at(&sqe, PAD2), 0);

    // An empty slice: its address and a zero length, nothing more.
    let sqe = sqe_of(&mut ring, Everything::new(&file, &bytes[40..], 0));
    assert_eq!(u32_at(&sqe, LEN), 0);
    assert_eq!(<Everything<'_>>::CODE, NEVER);
}

// ---------------------------------------------------------------------
// Typestate.
// ---------------------------------------------------------------------

/// `IOSQE_FIXED_FILE` follows the target's type and nothing else: set
/// for a `Fixed` of a `fd | fixed` op (whose `fd` is then the slot), never
/// for a raw one, always for a `fixed` op, and never for CLOSE, whose slot
/// goes to `file_index` as index + 1 with `fd` zero. No flags a caller
/// may pass (all three at once) add or remove it, nor a link bit.
#[test]
fn the_fixed_file_bit_follows_the_target_type_alone() {
    let mut ring = ring();
    let a = tempfile::tempfile().unwrap();
    let b = tempfile::tempfile().unwrap();
    let mut files = ring.register_files(&[file_fd(&a), file_fd(&b)]).unwrap();
    let mut buf = [0u8; 8];
    let all = SqeFlags::IO_DRAIN | SqeFlags::ASYNC | SqeFlags::CQE_SKIP_SUCCESS;
    for flags in [SqeFlags::EMPTY, all] {
        let sqe = sqe_of(&mut ring, MyRead::new(&a, &mut buf[..]).flags(flags));
        assert_eq!(sqe[FLAGS], flags.bits(), "a raw target");
        assert_eq!(u32_at(&sqe, FD) as i32, a.as_raw_fd());

        let fixed = files.get(1).unwrap();
        let sqe = sqe_of(&mut ring, MyRead::new(fixed, &mut buf[..]).flags(flags));
        assert_eq!(
            sqe[FLAGS],
            flags.bits() | sys::IOSQE_FIXED_FILE,
            "a fixed target"
        );
        assert_eq!(u32_at(&sqe, FD), 1, "the slot, in fd");

        let sqe = sqe_of(&mut ring, MyInstall::new(fixed).flags(flags));
        assert_eq!(sqe[FLAGS], flags.bits() | sys::IOSQE_FIXED_FILE);
        assert_eq!(u32_at(&sqe, FD), 1);

        let sqe = sqe_of(&mut ring, MySend::new(&a, &buf).flags(flags));
        assert_eq!(sqe[FLAGS], flags.bits(), "a fd-only target");
    }
    // CLOSE of a slot held exclusively: no fixed-file bit (the kernel
    // fails a CLOSE flagged so with EBADF), `fd` 0, `file_index` 2.
    {
        let slot = files.get_mut(1).unwrap();
        let sqe = sqe_of(&mut ring, MyClose::new(slot).flags(all));
        let theirs_slot = files.get_mut(1).unwrap();
        let theirs = sqe_of(&mut ring, Close::new(theirs_slot).flags(all));
        assert_eq!(sqe, theirs, "the library's Close of a slot");
        assert_eq!(sqe[FLAGS], all.bits());
        assert_eq!(u32_at(&sqe, FD), 0);
        assert_eq!(u32_at(&sqe, FILE_INDEX), 2);
    }
    // Not submitted: the descriptor stays the test's (it is leaked to the
    // op, which never runs; a dup keeps `a` apart from it).
    let owned: OwnedFd = a.try_clone().unwrap().into();
    let number = owned.as_raw_fd();
    let sqe = sqe_of(&mut ring, MyClose::new(owned));
    assert_eq!(sqe[FLAGS], 0);
    assert_eq!(u32_at(&sqe, FD) as i32, number);
    assert_eq!(u32_at(&sqe, FILE_INDEX), 0);
    drop(ring);
    // SAFETY: `number` was leaked into the op above, which was never
    // submitted and is gone with its ring: nothing else owns or uses it.
    drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(number) });
}

/// Chains of user ops carry the link bits the library's chains do: each
/// SQE but the last linked (soft or hard as asked), the last never; a
/// user `#[after_link]` LINK_TIMEOUT appended with `.link_timeout` writes
/// the SQEs the library's `LinkTimeout` does, also when the chain is
/// hard-linked on after it (the op the timeout bounds then carries the
/// hard link, `chain.rs`), and `.timeout(d)` on a user op appends the
/// library's.
#[test]
fn chains_of_user_ops_link_every_sqe_but_the_last() {
    let mut ring = ring();
    let file = tempfile::tempfile().unwrap();
    let mut buf = [0u8; 16];
    let data = pattern(16, 4);

    let sqes = sqes_of(
        &mut ring,
        MyNop::new()
            .user_data(1)
            .link(MyRead::new(&file, &mut buf[..]).user_data(2))
            .hard_link(MyWrite::new(&file, &data).user_data(3))
            .link(MyNop::new().user_data(4)),
    );
    let flags: Vec<u8> = sqes.iter().map(|s| s[FLAGS]).collect();
    assert_eq!(
        flags,
        [
            sys::IOSQE_IO_LINK,
            sys::IOSQE_IO_HARDLINK,
            sys::IOSQE_IO_LINK,
            0
        ]
    );
    let uds: Vec<u64> = sqes.iter().map(|s| u64_at(s, USER_DATA)).collect();
    assert_eq!(uds, [1, 2, 3, 4]);

    let d = Duration::from_millis(20);
    let ours = sqes_of(
        &mut ring,
        MyRead::new(&file, &mut buf[..])
            .user_data(5)
            .link_timeout(MyLinkTimeout::new(d).user_data(6))
            .hard_link(MyNop::new().user_data(7)),
    );
    let theirs = sqes_of(
        &mut ring,
        MyRead::new(&file, &mut buf[..])
            .user_data(5)
            .link_timeout(LinkTimeout::new(d).user_data(6))
            .hard_link(MyNop::new().user_data(7)),
    );
    let flags: Vec<u8> = ours.iter().map(|s| s[FLAGS]).collect();
    assert_eq!(
        flags,
        [sys::IOSQE_IO_HARDLINK, sys::IOSQE_IO_HARDLINK, 0],
        "the bounded op carries the hard link"
    );
    for (i, (mut o, mut t)) in ours.into_iter().zip(theirs).enumerate() {
        if i == 1 {
            assert_eq!(ring_owned(&ring, u64_at(&o, ADDR)), (0, 20_000_000));
            assert_eq!(ring_owned(&ring, u64_at(&t, ADDR)), (0, 20_000_000));
            put_u64(&mut o, ADDR, 0);
            put_u64(&mut t, ADDR, 0);
        }
        assert_eq!(o, t, "SQE {i} of the chain");
    }

    let sqes = sqes_of(&mut ring, MySend::new(&file, &data).timeout_with(d, 8));
    assert_eq!(sqes.len(), 2);
    assert_eq!(sqes[0][FLAGS], sys::IOSQE_IO_LINK);
    assert_eq!(sqes[1][OPCODE], sys::IORING_OP_LINK_TIMEOUT);
    assert_eq!((sqes[1][FLAGS], u64_at(&sqes[1], USER_DATA)), (0, 8));
}

/// A `| select` buffer of a user op sets `IOSQE_BUFFER_SELECT` only when
/// it is a selection: then `addr` is zero, `len` the selection's and
/// `buf_group` its group; a slice sets neither the bit nor the group. A
/// `select` argument always selects, with a zero `addr` and `len`.
#[test]
fn a_user_ops_buffer_select_bit_comes_from_a_selection_alone() {
    let mut ring = ring();
    let file = tempfile::tempfile().unwrap();
    let mut buf = [0u8; 24];
    let group = BufferGroup::new(0x1234);

    let sqe = sqe_of(&mut ring, MyRead::new(&file, group.select(100)));
    assert_eq!(sqe[FLAGS], sys::IOSQE_BUFFER_SELECT);
    assert_eq!(
        (
            u64_at(&sqe, ADDR),
            u32_at(&sqe, LEN),
            u16_at(&sqe, BUF_INDEX)
        ),
        (0, 100, 0x1234)
    );

    let sqe = sqe_of(&mut ring, MyRead::new(&file, &mut buf[..]));
    assert_eq!(sqe[FLAGS], 0);
    assert_eq!(
        (
            u64_at(&sqe, ADDR),
            u32_at(&sqe, LEN),
            u16_at(&sqe, BUF_INDEX)
        ),
        (buf.as_ptr() as u64, 24, 0)
    );

    let mut vector = vec![0u8; 5];
    let sqe = sqe_of(&mut ring, MyRead::new(&file, &mut vector));
    assert_eq!((sqe[FLAGS], u32_at(&sqe, LEN)), (0, 5), "a &mut Vec");

    let sqe = sqe_of(&mut ring, MyReadMulti::new(&file, group));
    assert_eq!(sqe[FLAGS], sys::IOSQE_BUFFER_SELECT);
    assert_eq!(
        (
            u64_at(&sqe, ADDR),
            u32_at(&sqe, LEN),
            u16_at(&sqe, BUF_INDEX)
        ),
        (0, 0, 0x1234)
    );
}

/// A user op that names a registered file of another ring is refused by
/// a scope (`ForeignFile`) and handed back, whether the file is its
/// target or a plain argument (`Fixed` in `addr3`, whose `SqeField` checks
/// the ring too); on its own ring it goes through and completes.
#[test]
fn a_user_op_naming_another_rings_file_is_refused_target_or_argument() {
    let _watch = uring_tests::watchdog();
    let file = file_of(b"abc");
    let mut ring_a = Ring::new(8).unwrap();
    let mut ring_b = Ring::new(8).unwrap();
    let files_a = ring_a.register_files(&[file_fd(&file)]).unwrap();
    let fixed = files_a.get(0).unwrap();
    let mut buf = [CANARY; 3];
    ring_b.scope(|s| {
        let err = s
            .push(MyRead::new(fixed, &mut buf[..]).user_data(1))
            .expect_err("a file of ring A, pushed to ring B");
        assert_eq!(err.kind(), PushErrorKind::ForeignFile);
        let err = s
            .push(NopNamingAFile::new(fixed).user_data(2))
            .expect_err("a file of ring A as an argument, pushed to ring B");
        assert_eq!(err.kind(), PushErrorKind::ForeignFile);
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(ring_b.pending(), 0, "nothing was written");
    assert_eq!(buf, [CANARY; 3]);
    let got = ring_a.scope(|s| {
        s.push(MyRead::new(fixed, &mut buf[..]).user_data(1))
            .unwrap();
        s.push(NopNamingAFile::new(fixed).user_data(2)).unwrap();
        reap(s, 2)
    });
    let got: Vec<(u64, i32)> = got.iter().map(|&(u, r, _)| (u, r)).collect();
    assert_eq!(got, [(1, 3), (2, 0)]);
    assert_eq!(&buf, b"abc");
}

// ---------------------------------------------------------------------
// On the kernel.
// ---------------------------------------------------------------------

/// The re-declared ops complete as the library's do: writes and reads of
/// a file (bytes and counts), a send on a socket pair (the bytes arrive),
/// NOPs in every opcode form, a NOP with an injected result (6.10), and a
/// TIMEOUT pushed through the ring's safe push (it borrows nothing: no
/// lifetime, no target) that fires with `-ETIME` no earlier than asked.
#[test]
fn redeclared_ops_complete_as_the_library_ops_do() {
    let _watch = uring_tests::watchdog();
    let mut file = tempfile::tempfile().unwrap();
    let data = pattern(300, 7);
    let mut mine = [CANARY; 300];
    let mut theirs = [CANARY; 300];
    let (tx, rx) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(16).unwrap();
    let got = ring.scope(|s| {
        s.push(MyWrite::new(&file, &data[..200]).user_data(1))
            .unwrap();
        s.push(Write::new(&file, &data[200..]).offset(200).user_data(2))
            .unwrap();
        let mut got = reap(s, 2);
        s.push(MyRead::new(&file, &mut mine[..]).offset(0).user_data(3))
            .unwrap();
        s.push(Read::new(&file, &mut theirs[..]).user_data(4))
            .unwrap();
        s.push(MySend::new(&tx, &data[..10]).user_data(5)).unwrap();
        s.push(Send::new(&tx, &data[10..20]).user_data(6)).unwrap();
        s.push(MyNop::new().user_data(7)).unwrap();
        s.push(NopByNumber::new().user_data(8)).unwrap();
        s.push(NopByPath::new().user_data(9)).unwrap();
        got.extend(reap(s, 7));
        got
    });
    let got: Vec<(u64, i32)> = got.iter().map(|&(u, r, _)| (u, r)).collect();
    assert_eq!(
        got,
        [
            (1, 200),
            (2, 100),
            (3, 300),
            (4, 300),
            (5, 10),
            (6, 10),
            (7, 0),
            (8, 0),
            (9, 0)
        ]
    );
    assert_eq!(&mine[..], &data[..]);
    assert_eq!(mine, theirs);
    let mut sent = [0u8; 20];
    rx.set_read_timeout(Some(PATIENCE)).unwrap();
    (&rx).read_exact(&mut sent).unwrap();
    assert_eq!(&sent[..], &data[..20]);
    file.seek(SeekFrom::Start(0)).unwrap();

    if require_kernel(6, 10, "IORING_NOP_INJECT_RESULT") {
        ring.push(MyInjectNop::new(-libc::EPERM).user_data(10))
            .unwrap();
        ring.push(Nop::new().result(-libc::EPERM).user_data(11))
            .unwrap();
        let mut got = uring_tests::pairs(&submit_and_reap(&mut ring, 2));
        got.sort_unstable();
        assert_eq!(got, [(10, -libc::EPERM), (11, -libc::EPERM)]);
    }

    let d = Duration::from_millis(30);
    let start = Instant::now();
    ring.push(MyTimeout::new(Timespec::from(d)).user_data(12))
        .unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert!(start.elapsed() >= d, "{:?}", start.elapsed());
    assert_eq!((cqe.user_data(), cqe.res()), (12, -libc::ETIME));
}

/// A user READ given a selection in a scope takes a buffer of the
/// library's buffer ring: the completion names it (`F_BUFFER`), the
/// claimed buffer holds the bytes, and the scope settles the op.
#[test]
fn a_user_read_selects_from_a_buffer_ring() {
    let _watch = uring_tests::watchdog();
    let (r, w) = pipe();
    File::from(w).write_all(b"selected").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 3, 4, 64) else {
        return;
    };
    let group = pool.group();
    let bytes = ring.scope(|s| {
        s.push(MyRead::new(&r, group.select(64)).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("the read");
        assert_eq!((cqe.user_data(), cqe.res()), (1, 8));
        assert_ne!(cqe.flags() & sys::IORING_CQE_F_BUFFER, 0);
        let buf = pool.claim(&mut cqe).expect("the selected buffer");
        let bytes = buf.to_vec();
        drop(buf);
        drop(cqe);
        assert_eq!(s.in_flight(), 0);
        bytes
    });
    assert_eq!(bytes, b"selected");
}

/// A user READ of an empty pipe bounded by a user LINK_TIMEOUT: the
/// timeout fires (`-ETIME`), the read is cancelled (`-ECANCELED`), its
/// buffer is untouched, and bytes written to the pipe afterwards are still
/// there to read.
#[test]
fn a_user_link_timeout_cuts_a_user_read_short() {
    let _watch = uring_tests::watchdog();
    let (r, w) = pipe();
    let mut buf = [CANARY; 16];
    let mut ring = Ring::new(8).unwrap();
    let start = Instant::now();
    let got = ring.scope(|s| {
        s.push(
            MyRead::new(&r, &mut buf[..])
                .user_data(1)
                .link_timeout(MyLinkTimeout::new(Duration::from_millis(20)).user_data(2)),
        )
        .unwrap();
        reap(s, 2)
    });
    assert!(start.elapsed() >= Duration::from_millis(20));
    let got: Vec<(u64, i32)> = got.iter().map(|&(u, r, _)| (u, r)).collect();
    assert_eq!(got, [(1, -libc::ECANCELED), (2, -libc::ETIME)]);
    assert_eq!(buf, [CANARY; 16]);
    let mut w = File::from(w);
    w.write_all(b"later").unwrap();
    drop(w);
    let mut left = Vec::new();
    File::from(r).read_to_end(&mut left).unwrap();
    assert_eq!(left, b"later");
}

/// A scope that unwinds (a panic in its closure) with a user READ of an
/// empty pipe in flight cancels it and waits for its completion before
/// the panic leaves the scope: the buffer it borrowed is untouched after
/// the unwind, and no read is left in the kernel to eat later bytes.
#[test]
fn a_scope_unwinding_over_a_user_read_ends_it_first() {
    let _watch = uring_tests::watchdog();
    let (r, w) = pipe();
    let mut buf = vec![CANARY; 32];
    let mut ring = Ring::new(8).unwrap();
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push(MyRead::new(&r, &mut buf[..]).user_data(1)).unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 1);
            std::panic::panic_any(uring_tests::Stop);
        })
    }));
    assert!(unwound.is_err(), "the scope unwound");
    assert_eq!(buf, vec![CANARY; 32]);
    let mut w = File::from(w);
    w.write_all(b"after the unwind").unwrap();
    drop(w);
    let mut left = Vec::new();
    File::from(r).read_to_end(&mut left).unwrap();
    assert_eq!(left, b"after the unwind");
    let stray: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// A user TIMEOUT's ring-owned timespec is copied by the kernel as it
/// consumes the SQE (`__io_timeout_prep`): a second user TIMEOUT pushed
/// into the same SQ slot later (a ring of two entries) overwrites the
/// ring's copy with a long timespec, and the first still fires at its own
/// time; the second is then removed (`-ECANCELED`).
#[test]
fn a_user_timeouts_ring_owned_timespec_is_free_once_consumed() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(2).unwrap();
    assert_eq!(ring.sq_entries(), 2);
    let start = Instant::now();
    ring.push(MyTimeout::new(Timespec::from(Duration::from_millis(80))).user_data(1))
        .unwrap();
    ring.submit().unwrap();
    ring.push(MyNop::new().user_data(2)).unwrap();
    ring.submit().unwrap();
    ring.push(MyTimeout::new(Timespec::from(Duration::from_secs(600))).user_data(3))
        .unwrap();
    ring.submit().unwrap();
    let mut got = uring_tests::pairs(&uring_tests::wait_cqes(&mut ring, 2));
    got.sort_unstable();
    let elapsed = start.elapsed();
    assert_eq!(got, [(1, -libc::ETIME), (2, 0)]);
    assert!(
        elapsed >= Duration::from_millis(80) && elapsed < Duration::from_secs(30),
        "{elapsed:?}"
    );
    ring.push(TimeoutRemove::new(3).user_data(4)).unwrap();
    let mut got = uring_tests::pairs(&submit_and_reap(&mut ring, 2));
    got.sort_unstable();
    assert_eq!(got, [(3, -libc::ECANCELED), (4, 0)]);
}

// ---------------------------------------------------------------------
// Arbitrary builds (`arbitrary-ops`).
// ---------------------------------------------------------------------

/// What the arbitrary builds may borrow or name: a file, a pipe, sockets,
/// registered files of the ring they go to. No owned descriptors (the ops
/// that close one are not built), no driver commands, no block devices.
struct Cx<'r> {
    arena: &'r uring_tests::prop::Arena,
    file: &'r File,
    pipe: &'r (OwnedFd, OwnedFd),
    socks: &'r (UnixStream, UnixStream),
    files: Option<&'r uring::FixedFiles>,
    groups: &'r [BufferGroup],
    /// A `Fixed` was handed out as this op's target.
    fixed_target: bool,
    /// A group was handed out to this op.
    grouped: bool,
}

impl<'r> Context<'r> for Cx<'r> {
    fn begin_op(&mut self, _: &'static OpInfo) {
        self.fixed_target = false;
        self.grouped = false;
    }

    fn keep<T: 'r>(&mut self, value: T) -> &'r mut T {
        self.arena.keep(value)
    }

    fn bytes(&mut self, _: &Site, len: usize) -> &'r mut [u8] {
        self.arena
            .keep(vec![CANARY; len.min(1 << 16)])
            .as_mut_slice()
    }

    fn c_str(&mut self, _: &Site, g: &mut Gen) -> &'r std::ffi::CStr {
        let text = std::ffi::CString::new(format!("/nonexistent/{}", g.below(100))).unwrap();
        self.arena.keep(text).as_c_str()
    }

    fn fd(&mut self, _: &Site, g: &mut Gen) -> Option<uring::Fd<'r>> {
        Some(match g.below(4) {
            0 => uring::Fd::from(self.file),
            1 => uring::Fd::from(&self.pipe.0),
            2 => uring::Fd::from(&self.pipe.1),
            _ => uring::Fd::from(&self.socks.0),
        })
    }

    fn file(&mut self, _: &Site, _: &mut Gen) -> Option<BorrowedFd<'r>> {
        Some(file_fd(self.file))
    }

    fn owned_fd(&mut self, _: &Site, _: &mut Gen) -> Option<OwnedFd> {
        None
    }

    fn fixed(&mut self, site: &Site, g: &mut Gen) -> Option<uring::Fixed<'r>> {
        let files = self.files?;
        let fixed = files.get(g.below(u64::from(files.len())) as u32).ok()?;
        if site.arg == "target" {
            self.fixed_target = true;
        }
        Some(fixed)
    }

    fn fixed_mut(&mut self, _: &Site, _: &mut Gen) -> Option<FixedMut<'r>> {
        None
    }

    fn fixed_buf(&mut self, _: &Site, _: &mut Gen) -> Option<FixedBuf> {
        None
    }

    fn group(&mut self, _: &Site, g: &mut Gen) -> Option<BufferGroup> {
        let group = g.pick(self.groups)?;
        self.grouped = true;
        Some(group)
    }

    fn sock_addr(&mut self, _: &Site, _: &mut Gen) -> Option<std::net::SocketAddr> {
        "127.0.0.1:1".parse().ok()
    }

    fn socket(&mut self, _: &Site, _: &mut Gen) -> Option<SocketFd<'r>> {
        Some(SocketFd::from(&self.socks.1))
    }

    fn new_fds(&mut self, _: &Site) -> &'r mut [RawFd; 2] {
        self.arena.keep([-1; 2])
    }
}

/// Pushes each arbitrary op, alone or after a NOP it is linked to (an
/// `#[after_link]` op), on one of two rings (64- or 128-byte SQEs), and
/// returns the first 64 bytes of the SQEs it wrote and whether it went
/// alone.
struct Pusher<'a> {
    small: &'a mut Ring<Sqe64>,
    big: &'a mut Ring<Sqe128, uring::Cqe16>,
}

impl Pusher<'_> {
    fn small<T: Submission<Sqe64>>(self, op: T) -> (Vec<[u8; 64]>, bool) {
        let before = self.small.pending() as usize;
        // SAFETY: the ring is never submitted (`arbitrary_builds_*` drops
        // it unsubmitted) and has no SQ thread: the kernel never reads the
        // SQE, nor what it names.
        let pushed = unsafe { self.small.push_unchecked(op) };
        assert!(pushed.is_ok(), "room in the SQ");
        (
            self.small.pending_sqes().skip(before).map(raw).collect(),
            true,
        )
    }
}

impl<'r> Visit<'r> for Pusher<'_> {
    type Output = (Vec<[u8; 64]>, bool);

    fn op<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe64>
            + Submission<Sqe128>
            + FitsSqe<Sqe64>
            + FitsSqe<Sqe128>
            + Scoped
            + std::fmt::Debug
            + 'r,
    {
        self.small(op)
    }

    fn retaining<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe64>
            + Submission<Sqe128>
            + FitsSqe<Sqe64>
            + FitsSqe<Sqe128>
            + std::fmt::Debug
            + 'r,
    {
        self.small(op)
    }

    fn sqe128<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe128> + FitsSqe<Sqe128> + Scoped + std::fmt::Debug + 'r,
    {
        let before = self.big.pending() as usize;
        // SAFETY: as in `Pusher::small`: never submitted.
        let pushed = unsafe { self.big.push_unchecked(op) };
        assert!(pushed.is_ok(), "room in the SQ");
        (
            self.big
                .pending_sqes()
                .skip(before)
                .map(|s| raw(s.sqe))
                .collect(),
            true,
        )
    }

    fn after_link<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: AfterLink + Prepare + FitsSqe<Sqe64> + FitsSqe<Sqe128> + Scoped + std::fmt::Debug + 'r,
    {
        let (mut sqes, _) = self.small(Nop::new().link_timeout(op));
        assert_eq!(sqes.len(), 2);
        assert_eq!(sqes[0][FLAGS], sys::IOSQE_IO_LINK, "the NOP before it");
        (vec![sqes.remove(1)], false)
    }
}

/// Checks the SQE an arbitrary op wrote against what its type allows.
fn check_sqe(info: &OpInfo, base: &Base, sqe: &[u8; 64], fixed_target: bool, grouped: bool) {
    let name = info.name;
    assert_eq!(sqe[OPCODE], info.code, "{name}: its opcode");
    let flags = sqe[FLAGS];
    assert_eq!(
        flags & 0x80,
        0,
        "{name}: an SQE flag no kernel has: {flags:#x}"
    );
    assert_eq!(
        flags & (sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK),
        0,
        "{name}: a link bit on a lone op"
    );
    assert_eq!(
        flags & CALLER_BITS,
        base.flags.bits(),
        "{name}: the caller's bits"
    );
    // The `fixed(file_index)` forms put a slot in `file_index`, never the
    // bit (see `a_slot_target_outside_close_*` for the one that is not
    // CLOSE).
    let slot_form = ["Close", "MyClose"].contains(&name);
    assert_eq!(
        flags & sys::IOSQE_FIXED_FILE != 0,
        fixed_target && !slot_form,
        "{name}: IOSQE_FIXED_FILE without a Fixed target, or the other way round ({flags:#x})"
    );
    if flags & sys::IOSQE_BUFFER_SELECT != 0 {
        assert!(grouped, "{name}: a buffer selection from no group");
        // RECVMSG's and READV's `addr` is their header or iovec array,
        // whatever the buffer.
        if ![sys::IORING_OP_RECVMSG, sys::IORING_OP_READV].contains(&info.code) {
            assert_eq!(
                u64_at(sqe, ADDR),
                0,
                "{name}: a selection passes no address"
            );
        }
    }
    assert_eq!(u64_at(sqe, USER_DATA), base.user_data, "{name}: user_data");
    assert_eq!(
        u16_at(sqe, PERSONALITY),
        0,
        "{name}: a personality nobody set"
    );
    let ioprio = u16_at(sqe, IOPRIO);
    let msg_flags = u32_at(sqe, OP_FLAGS);
    let sends = [
        sys::IORING_OP_SEND,
        sys::IORING_OP_SENDMSG,
        sys::IORING_OP_SEND_ZC,
        sys::IORING_OP_SENDMSG_ZC,
    ];
    let socket_io = sends.contains(&info.code)
        || [sys::IORING_OP_RECV, sys::IORING_OP_RECVMSG].contains(&info.code);
    if sends.contains(&info.code) && !name.ends_with('V') {
        assert_eq!(
            ioprio & sys::IORING_SEND_VECTORIZED,
            0,
            "{name}: IORING_SEND_VECTORIZED on an op whose buffer is not an iovec array"
        );
    }
    if socket_io {
        assert_eq!(
            msg_flags & libc::MSG_ZEROCOPY as u32,
            0,
            "{name}: MSG_ZEROCOPY, which keeps the op's memory"
        );
        if !name.contains("Fixed") {
            assert_eq!(
                ioprio & sys::IORING_RECVSEND_FIXED_BUF,
                0,
                "{name}: a registered-buffer send without a registered buffer"
            );
        }
    }
    let rw_or_cmd = [
        sys::IORING_OP_URING_CMD,
        sys::IORING_OP_READ,
        sys::IORING_OP_WRITE,
        sys::IORING_OP_READV,
        sys::IORING_OP_WRITEV,
        sys::IORING_OP_READ_FIXED,
        sys::IORING_OP_WRITE_FIXED,
        sys::IORING_OP_READV_FIXED,
        sys::IORING_OP_WRITEV_FIXED,
    ];
    if !rw_or_cmd.contains(&info.code) {
        assert_eq!(u64_at(sqe, PAD2), 0, "{name}: __pad2");
    }
}

/// Every op of the library's table and of this file's, built from
/// arbitrary values for many seeds (`arbitrary-ops`), with arbitrary
/// caller flags and `user_data`: no build or push panics, and each SQE
/// carries only the bits its type allows: no link bit on a lone op, the
/// caller's flags exactly, `IOSQE_FIXED_FILE` iff the target handed out
/// was a `Fixed`, `IOSQE_BUFFER_SELECT` only with a group (and then no
/// address), no personality, no unknown flag bit, none of the
/// address-following or memory-keeping bits (`IORING_SEND_VECTORIZED` on
/// a send of a plain buffer, `MSG_ZEROCOPY`, `IORING_RECVSEND_FIXED_BUF`
/// without a registered buffer), and a zero `__pad2` outside the ops that
/// use it. (`prop_ops.rs` runs such builds on the kernel and checks their
/// completions; it never reads their SQEs.)
#[test]
fn arbitrary_builds_of_every_op_carry_only_the_bits_their_types_allow() {
    let _watch = uring_tests::watchdog();
    let seeds: u64 = std::env::var("URING_GAP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let file = tempfile::tempfile().unwrap();
    let pipe = pipe();
    let socks = UnixStream::pair().unwrap();
    let groups = [BufferGroup::new(1), BufferGroup::new(7)];
    let all_flags = [
        SqeFlags::EMPTY,
        SqeFlags::IO_DRAIN,
        SqeFlags::ASYNC,
        SqeFlags::CQE_SKIP_SUCCESS,
        SqeFlags::IO_DRAIN | SqeFlags::ASYNC | SqeFlags::CQE_SKIP_SUCCESS,
    ];
    let mut built = std::collections::BTreeMap::<&str, u32>::new();
    for (list, kinds, table) in [
        (uring::ops::ALL, uring::ops::ALL_KINDS, 0),
        (MINE, MINE_KINDS, 1),
    ] {
        assert_eq!(list.len(), kinds.len());
        for seed in 0..seeds {
            let mut small = Ring::new(256).unwrap();
            let mut big = Ring::builder()
                .build_sized::<Sqe128, uring::Cqe16>(256)
                .unwrap();
            let files = small
                .register_files(&[file_fd(&file), std::os::fd::AsFd::as_fd(&pipe.0)])
                .ok();
            let arena = uring_tests::prop::Arena::new();
            let mut cx = Cx {
                arena: &arena,
                file: &file,
                pipe: &pipe,
                socks: &socks,
                files: files.as_ref(),
                groups: &groups,
                fixed_target: false,
                grouped: false,
            };
            for (index, info) in list.iter().enumerate() {
                let mut g = Gen::new(seed.wrapping_mul(0x9e37_79b9) ^ index as u64 ^ table << 40);
                let base = Base {
                    user_data: g.next_u64(),
                    flags: all_flags[g.below(all_flags.len() as u64) as usize],
                    personality: None,
                };
                let pusher = Pusher {
                    small: &mut small,
                    big: &mut big,
                };
                let made = if table == 0 {
                    uring::ops::all_arbitrary(index, &mut g, &mut cx, base, pusher)
                } else {
                    mine_arbitrary(index, &mut g, &mut cx, base, pusher)
                };
                let Some(Ok((sqes, _alone))) = made else {
                    continue;
                };
                assert_eq!(sqes.len(), 1, "{}: one SQE", info.name);
                check_sqe(info, &base, &sqes[0], cx.fixed_target, cx.grouped);
                if kinds[index] == Kind::AfterLink {
                    assert_eq!(info.code, sys::IORING_OP_LINK_TIMEOUT, "{}", info.name);
                }
                *built.entry(info.name).or_default() += 1;
            }
        }
    }
    for must in [
        "Read",
        "Write",
        "Send",
        "Timeout",
        "MyRead",
        "MySend",
        "Everything",
    ] {
        assert!(
            built.get(must).copied().unwrap_or(0) > 0,
            "{must} was never built: {built:?}"
        );
    }
}

// ---------------------------------------------------------------------
// Which pushes take which user op.
// ---------------------------------------------------------------------

/// A type to ask about (autoref specialisation: the trait whose impl
/// applies with fewer references wins).
struct Probe<T>(std::marker::PhantomData<T>);

macro_rules! probe_trait {
    ($yes:ident, $no:ident, $method:ident, $bound:path) => {
        trait $yes {
            fn $method(&self) -> bool {
                true
            }
        }
        impl<T: $bound> $yes for Probe<T> {}
        trait $no {
            fn $method(&self) -> bool {
                false
            }
        }
        impl<T> $no for &Probe<T> {}
    };
}

probe_trait!(IsUnborrowed, NotUnborrowed, unborrowed, uring::Unborrowed);
probe_trait!(IsScoped, NotScoped, scoped, uring::Scoped);
probe_trait!(IsSubmission, NotSubmission, submission, uring::Submission);
probe_trait!(IsAfterLink, NotAfterLink, after_link, uring::op::AfterLink);
probe_trait!(IsChainNext, NotChainNext, chain_next, uring::op::ChainNext);

/// `(Unborrowed, Scoped, Submission, AfterLink, ChainNext)` of a type.
macro_rules! traits_of {
    ($ty:ty) => {{
        let p = Probe::<$ty>(std::marker::PhantomData);
        (
            (&p).unborrowed(),
            (&p).scoped(),
            (&p).submission(),
            (&p).after_link(),
            (&p).chain_next(),
        )
    }};
}

/// The marker traits the macro gives user ops, as `expand/traits.rs`
/// writes them and the library's own ops have them: `Unborrowed` (the
/// ring's safe push) only for an op with no lifetime and no target, or an
/// owned target that is a descriptor; `Scoped` for every op but a
/// `#[retains_memory]` one; an `#[after_link]` op is neither pushed alone
/// nor linked like an op. The probe agrees with the library's ops of the
/// same forms.
#[test]
fn the_pushes_that_take_a_user_op_follow_its_borrows() {
    let (yes, no) = (true, false);
    let op = |unborrowed| (unborrowed, yes, yes, no, yes);
    // No lifetime, no target.
    assert_eq!(traits_of!(MyNop), op(yes));
    assert_eq!(traits_of!(MyTimeout), op(yes));
    assert_eq!(traits_of!(CancelByNumber), op(yes));
    assert_eq!(traits_of!(Nop), op(yes), "the library's");
    // An owned descriptor: borrows nothing; a slot held exclusively does.
    assert_eq!(traits_of!(MyClose<uring::Fd<'static>>), op(yes));
    assert_eq!(
        traits_of!(Close<uring::Fd<'static>>),
        op(yes),
        "the library's"
    );
    assert_eq!(traits_of!(MyClose<uring::Fixed<'static>>), op(no));
    // A target, even without a lifetime: the target's type borrows.
    assert_eq!(traits_of!(MyReadMulti), op(no));
    assert_eq!(traits_of!(MyInstall), op(no));
    assert_eq!(traits_of!(ReadMultishot), op(no), "the library's");
    // Lifetimes.
    assert_eq!(traits_of!(MyRead<'static>), op(no));
    assert_eq!(traits_of!(MySend<'static>), op(no));
    assert_eq!(traits_of!(NopNamingAFile<'static>), op(no));
    // Memory the kernel keeps: no scope.
    assert_eq!(traits_of!(MyProvide<'static>), (no, no, yes, no, yes));
    assert_eq!(
        traits_of!(uring::ops::ProvideBuffers<'static>),
        (no, no, yes, no, yes),
        "the library's"
    );
    // After a link only.
    assert_eq!(traits_of!(MyLinkTimeout), (yes, yes, no, yes, no));
    assert_eq!(
        traits_of!(LinkTimeout),
        (yes, yes, no, yes, no),
        "the library's"
    );
}

/// A user ASYNC_CANCEL declared by its number names ops as the library's
/// does (`NAMES_OPS` comes from the opcode, whatever its form): in a
/// scope it finds the scope's read by the `user_data` the program gave it
/// (the scope rewrites it to the read's tag when the read has one), the
/// read is cancelled, and the scope ends with nothing in flight.
#[test]
fn a_user_cancel_by_number_finds_the_scopes_op_by_its_user_data() {
    let _watch = uring_tests::watchdog();
    let (r, _w) = pipe();
    let mut buf = [CANARY; 8];
    let mut ring = Ring::new(8).unwrap();
    let got = ring.scope(|s| {
        s.push(MyRead::new(&r, &mut buf[..]).user_data(41)).unwrap();
        s.submit().unwrap();
        s.push(CancelByNumber::new(41).user_data(42)).unwrap();
        let got = reap(s, 2);
        assert_eq!(s.in_flight(), 0);
        got
    });
    let got: Vec<(u64, i32)> = got.iter().map(|&(u, r, _)| (u, r)).collect();
    assert_eq!(got, [(41, -libc::ECANCELED), (42, 0)]);
    assert_eq!(buf, [CANARY; 8]);
}

/// A user SEND_ZC is a zero-copy send to the scope (`ZERO_COPY` comes
/// from the opcode): its completion flagged `F_MORE` and its notification
/// (`F_NOTIF`) both come to the scope, the bytes arrive, and the scope
/// keeps the op in flight until the notification, after which nothing is
/// left for the ring.
#[test]
fn a_user_zero_copy_send_is_held_until_its_notification() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 0, "SEND_ZC") {
        return;
    }
    let (tx, mut rx) = uring_tests::tcp_pair();
    let data = pattern(4096, 0x21);
    let mut ring = Ring::new(8).unwrap();
    let got = ring.scope(|s| {
        s.push(MySendZc::new(&tx, &data).user_data(7)).unwrap();
        s.submit().unwrap();
        let deadline = Instant::now() + PATIENCE;
        let mut got = Vec::new();
        while s.in_flight() > 0 && Instant::now() < deadline {
            let _ = s.wait_timeout(1, Duration::from_millis(50));
            got.extend(drain(s));
        }
        assert_eq!(s.in_flight(), 0, "{got:?}");
        got
    });
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (7, 4096));
    assert_ne!(got[0].2 & sys::IORING_CQE_F_MORE, 0, "{got:?}");
    assert_eq!(got[1].0, 7);
    assert_ne!(got[1].2 & sys::IORING_CQE_F_NOTIF, 0, "{got:?}");
    let stray: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert!(stray.is_empty(), "{stray:?}");
    let mut back = vec![0u8; 4096];
    rx.set_read_timeout(Some(PATIENCE)).unwrap();
    rx.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
}
