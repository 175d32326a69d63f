//! Argument types of the less common ops: message headers, futexes, polls,
//! splices, fixed buffers, and the flag sets of their SQE fields.

use crate::op::SqeField;
use crate::types::{Fd, IntoTarget, SockAddr, SockAddrBuf, Target};
use std::ffi::CStr;
use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::sync::atomic::AtomicU32;

/// Where an op that creates a descriptor (`Accept`, `OpenAt`, `Socket`,
/// `Pipe`) puts it: a regular descriptor of the process (the default), or a
/// direct descriptor in the ring's fixed-file table, at a given slot or a
/// free one the kernel picks. A direct descriptor's op completes with 0 (at
/// a slot) or the slot picked; [`FixedFiles::get`](crate::FixedFiles::get)
/// turns that into a `Fixed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirectSlot(u32);

impl DirectSlot {
    /// A regular descriptor, not a direct one.
    pub const NONE: DirectSlot = DirectSlot(0);
    /// A free slot of the table, which the kernel picks (within the range
    /// [`Ring::set_file_alloc_range`](crate::Ring::set_file_alloc_range) set).
    pub const ALLOC: DirectSlot = DirectSlot(crate::sys::IORING_FILE_INDEX_ALLOC);

    /// The slot `slot` (replacing what it held).
    pub const fn at(slot: crate::types::Fixed) -> DirectSlot {
        DirectSlot(slot.index() + 1)
    }
}

// SAFETY: a slot number is not an address.
unsafe impl SqeField<u32> for DirectSlot {
    #[inline(always)]
    fn into_field(self) -> u32 {
        self.0
    }
}

/// A registered buffer: the index [`FixedBuffers::get`](crate::FixedBuffers::get)
/// hands out, for `ReadFixed`, `WriteFixed` and their vectored forms. The
/// bytes an op names must lie inside that buffer; the kernel fails the op
/// with `EFAULT` otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedBuf(pub(crate) u16);

impl FixedBuf {
    /// The index in the registered-buffer table.
    pub const fn index(self) -> u16 {
        self.0
    }
}

// SAFETY: an index is not an address.
unsafe impl SqeField<u16> for FixedBuf {
    #[inline(always)]
    fn into_field(self) -> u16 {
        self.0
    }
}

flags! {
    /// `IORING_FSYNC_*` flags of `Fsync`.
    pub struct FsyncFlags: u32 {
        /// Sync data only, like `fdatasync(2)`.
        const DATASYNC = crate::sys::IORING_FSYNC_DATASYNC;
    }
}

flags! {
    /// The `poll(2)` events a `PollAdd` waits for (`libc::POLLIN`, ...).
    pub struct PollEvents: u32 {
        /// Data to read.
        const IN = libc::POLLIN as u32;
        /// Urgent data to read.
        const PRI = libc::POLLPRI as u32;
        /// Room to write.
        const OUT = libc::POLLOUT as u32;
        /// An error (always reported).
        const ERR = libc::POLLERR as u32;
        /// A hang-up (always reported).
        const HUP = libc::POLLHUP as u32;
        /// The peer shut its writing half down.
        const RDHUP = libc::POLLRDHUP as u32;
    }
}

// SAFETY: events are not addresses. The kernel reads `poll32_events` with
// its two 16-bit halves swapped on big-endian machines.
unsafe impl SqeField<u32> for PollEvents {
    #[inline(always)]
    fn into_field(self) -> u32 {
        if cfg!(target_endian = "big") {
            self.bits().rotate_left(16)
        } else {
            self.bits()
        }
    }
}

flags! {
    /// `IORING_POLL_*` flags of `PollAdd` (in the SQE's `len`).
    pub struct PollFlags: u32 {
        /// Keep polling: a completion (flagged `IORING_CQE_F_MORE`) each
        /// time the file is ready (5.13).
        const MULTI = crate::sys::IORING_POLL_ADD_MULTI;
        /// Level-triggered rather than edge-triggered (6.0).
        const LEVEL = crate::sys::IORING_POLL_ADD_LEVEL;
    }
}

flags! {
    /// `SPLICE_F_*` flags of `Splice` and `Tee`.
    pub struct SpliceFlags: u32 {
        /// Move pages instead of copying, where possible.
        const MOVE = 1;
        /// Do not block on the pipes.
        const NONBLOCK = 2;
        /// More data will follow.
        const MORE = 4;
    }
}

flags! {
    /// `FUTEX2_*` flags of the futex ops: the word size and privacy.
    pub struct FutexFlags: u32 {
        /// A 32-bit futex word (the only size `AtomicU32` futexes have).
        const SIZE_U32 = 0x02;
        /// The futex is private to this process.
        const PRIVATE = 128;
    }
}

macro_rules! flag_fields {
    ($($name:ident: $ty:ty),*) => {$(
        // SAFETY: flags are not addresses.
        unsafe impl SqeField<$ty> for $name {
            #[inline(always)]
            fn into_field(self) -> $ty {
                self.bits() as $ty
            }
        }
    )*};
}

flag_fields!(FsyncFlags: u32, PollFlags: u32, SpliceFlags: u32, FutexFlags: i32);

/// The input of a `Splice` or `Tee`: a raw descriptor or a fixed file; a
/// fixed one sets `SPLICE_F_FD_IN_FIXED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpliceSource {
    fd: i32,
    fixed: bool,
}

impl<T: IntoTarget> From<T> for SpliceSource {
    fn from(target: T) -> SpliceSource {
        let target = target.into_target();
        SpliceSource {
            fd: target.raw(),
            fixed: <T::Target as Target>::FIXED,
        }
    }
}

// SAFETY: a descriptor and a flag are not addresses.
unsafe impl SqeField<(i32, u32)> for SpliceSource {
    #[inline(always)]
    fn into_field(self) -> (i32, u32) {
        let flag = if self.fixed {
            crate::sys::SPLICE_F_FD_IN_FIXED
        } else {
            0
        };
        (self.fd, flag)
    }
}

/// The words of a `FutexWaitV`: each names a futex word and the value to
/// wait on (`struct futex_waitv`).
#[repr(C)]
pub struct FutexWaitV<'a> {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
    _word: PhantomData<&'a AtomicU32>,
}

impl<'a> FutexWaitV<'a> {
    /// Wait while `word` holds `value`.
    pub fn new(word: &'a AtomicU32, value: u32, flags: FutexFlags) -> FutexWaitV<'a> {
        FutexWaitV {
            val: u64::from(value),
            uaddr: word.as_ptr() as u64,
            flags: flags.bits(),
            reserved: 0,
            _word: PhantomData,
        }
    }
}

impl fmt::Debug for FutexWaitV<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FutexWaitV")
            .field("val", &self.val)
            .field("uaddr", &format_args!("{:#x}", self.uaddr))
            .field("flags", &self.flags)
            .finish()
    }
}

/// A message for `SendMsg`: the buffers to send, and optionally a
/// destination address and ancillary data (`struct msghdr`).
pub struct MsgHdr<'a> {
    raw: libc::msghdr,
    _parts: PhantomData<(&'a [IoSlice<'a>], &'a SockAddr, &'a [u8])>,
}

impl<'a> MsgHdr<'a> {
    /// A message of `buffers`.
    pub fn new(buffers: &'a [IoSlice<'a>]) -> MsgHdr<'a> {
        // SAFETY: all-zero bytes are a valid, empty `msghdr`.
        let mut raw: libc::msghdr = unsafe { std::mem::zeroed() };
        raw.msg_iov = buffers.as_ptr() as *mut libc::iovec;
        raw.msg_iovlen = buffers.len() as _;
        MsgHdr {
            raw,
            _parts: PhantomData,
        }
    }

    /// Sends to `addr` (an unconnected datagram socket).
    pub fn to(mut self, addr: &'a SockAddr) -> MsgHdr<'a> {
        self.raw.msg_name = addr.as_ptr() as *mut libc::c_void;
        self.raw.msg_namelen = addr.len();
        self
    }

    /// Sends `control` as ancillary data (`cmsg` records).
    pub fn control(mut self, control: &'a [u8]) -> MsgHdr<'a> {
        self.raw.msg_control = control.as_ptr() as *mut libc::c_void;
        self.raw.msg_controllen = control.len() as _;
        self
    }
}

impl fmt::Debug for MsgHdr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgHdr")
            .field("buffers", &self.raw.msg_iovlen)
            .field("namelen", &self.raw.msg_namelen)
            .field("controllen", &self.raw.msg_controllen)
            .finish()
    }
}

// SAFETY: the address of a header borrowed for the op's lifetime; the
// buffers, address and control data it points to are borrowed as long.
unsafe impl SqeField<u64> for &MsgHdr<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        &self.raw as *const libc::msghdr as u64
    }
}

/// A message for `RecvMsg`: the buffers to receive into, and optionally room
/// for the sender's address and ancillary data. The kernel writes the
/// lengths and flags back; read them after the completion.
pub struct MsgHdrMut<'a> {
    raw: libc::msghdr,
    _parts: PhantomData<(&'a mut [IoSliceMut<'a>], &'a mut SockAddrBuf, &'a mut [u8])>,
}

impl<'a> MsgHdrMut<'a> {
    /// A message received into `buffers`.
    pub fn new(buffers: &'a mut [IoSliceMut<'a>]) -> MsgHdrMut<'a> {
        // SAFETY: all-zero bytes are a valid, empty `msghdr`.
        let mut raw: libc::msghdr = unsafe { std::mem::zeroed() };
        raw.msg_iov = buffers.as_mut_ptr() as *mut libc::iovec;
        raw.msg_iovlen = buffers.len() as _;
        MsgHdrMut {
            raw,
            _parts: PhantomData,
        }
    }

    /// Receives the sender's address into `from` (emptied first, so that
    /// [`SockAddrBuf::socket_addr`] is `None` when the message came without
    /// an address).
    pub fn from(mut self, from: &'a mut SockAddrBuf) -> MsgHdrMut<'a> {
        let (storage, len) = from.as_out_ptrs();
        self.raw.msg_name = storage.cast();
        // SAFETY: `len` points to the buffer's length word, just reset.
        self.raw.msg_namelen = unsafe { *len };
        self
    }

    /// Receives ancillary data into `control`.
    pub fn control(mut self, control: &'a mut [u8]) -> MsgHdrMut<'a> {
        self.raw.msg_control = control.as_mut_ptr().cast();
        self.raw.msg_controllen = control.len() as _;
        self
    }

    /// The length of the sender's address the kernel wrote.
    pub fn name_len(&self) -> u32 {
        self.raw.msg_namelen
    }

    /// The length of the ancillary data the kernel wrote.
    // `msg_controllen` is a `size_t` on glibc and a `socklen_t` on musl.
    #[allow(clippy::unnecessary_cast)]
    pub fn control_len(&self) -> usize {
        self.raw.msg_controllen as usize
    }

    /// The `MSG_*` flags the kernel set (`MSG_TRUNC`, `MSG_CTRUNC`, ...).
    pub fn flags(&self) -> i32 {
        self.raw.msg_flags
    }
}

impl fmt::Debug for MsgHdrMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgHdrMut")
            .field("buffers", &self.raw.msg_iovlen)
            .field("namelen", &self.raw.msg_namelen)
            .field("controllen", &self.raw.msg_controllen)
            .field("flags", &self.raw.msg_flags)
            .finish()
    }
}

// SAFETY: the address of a header borrowed exclusively for the op's lifetime
// (the kernel writes its lengths and flags); what it points to is borrowed
// as long.
unsafe impl SqeField<u64> for &mut MsgHdrMut<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        &mut self.raw as *mut libc::msghdr as u64
    }
}

/// Memory `Madvise` gives advice on, by address and length.
///
/// Advice acts on whole pages and may change their contents
/// (`MADV_DONTNEED` zeroes them), so a range is made unsafely.
#[derive(Clone, Copy, Debug)]
pub struct MadviseRange {
    addr: u64,
    len: u64,
}

impl MadviseRange {
    /// The range `addr .. addr + len` (lengths above 4 GiB need Linux 6.7).
    ///
    /// # Safety
    ///
    /// Every page the range touches must be memory the caller may have the
    /// advice applied to: with advice that discards contents, no live Rust
    /// value may be stored there, and the advice must not unmap memory
    /// something still uses.
    pub unsafe fn new(addr: *mut u8, len: u64) -> MadviseRange {
        MadviseRange {
            addr: addr as u64,
            len,
        }
    }
}

// SAFETY: the constructor's caller vouched for the range. MADVISE since 6.7
// reads a 64-bit length from `off` and falls back to `len` when it is zero;
// older kernels refuse a non-zero `off`, so it stays zero when it can.
unsafe impl SqeField<(u64, u64, u32)> for MadviseRange {
    #[inline(always)]
    fn into_field(self) -> (u64, u64, u32) {
        match u32::try_from(self.len) {
            Ok(short) => (self.addr, 0, short),
            Err(_) => (self.addr, self.len, 0),
        }
    }
}

// SAFETY: the address of a futex word borrowed for the op's lifetime; the
// kernel reads (and compares) it atomically.
unsafe impl SqeField<u64> for &AtomicU32 {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self.as_ptr() as u64
    }
}

// SAFETY: the address of a `statx` buffer borrowed exclusively for the op's
// lifetime; the kernel fills it.
unsafe impl SqeField<u64> for &mut libc::statx {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self as *mut libc::statx as u64
    }
}

// SAFETY: the address of an `open_how` borrowed for the op's lifetime, with
// its size (the kernel's version check).
unsafe impl SqeField<(u64, u32)> for &libc::open_how {
    #[inline(always)]
    fn into_field(self) -> (u64, u32) {
        (
            self as *const libc::open_how as u64,
            std::mem::size_of::<libc::open_how>() as u32,
        )
    }
}

// SAFETY: the address of an event borrowed for the op's lifetime.
unsafe impl SqeField<u64> for &libc::epoll_event {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self as *const libc::epoll_event as u64
    }
}

// SAFETY: the address of a `siginfo_t` borrowed exclusively for the op's
// lifetime; the kernel fills it.
unsafe impl SqeField<u64> for &mut libc::siginfo_t {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self as *mut libc::siginfo_t as u64
    }
}

// SAFETY: the address of two descriptors borrowed exclusively for the op's
// lifetime; the kernel writes the new pipe's ends there.
unsafe impl SqeField<u64> for &mut [RawFd; 2] {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self.as_mut_ptr() as u64
    }
}

// SAFETY: the address of a string borrowed for the op's lifetime (an
// optional path or name; null when absent).
unsafe impl SqeField<u64> for Option<&CStr> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self.map_or(0, |s| s.as_ptr() as u64)
    }
}

// SAFETY: a descriptor is not an address; the kernel reads it from a 32-bit
// field or the low half of a 64-bit one.
unsafe impl SqeField<u32> for Fd {
    #[inline(always)]
    fn into_field(self) -> u32 {
        self.as_raw() as u32
    }
}

// SAFETY: as above.
unsafe impl SqeField<u64> for Fd {
    #[inline(always)]
    fn into_field(self) -> u64 {
        u64::from(self.as_raw() as u32)
    }
}

// SAFETY: the address of a borrowed address and its length, as `sendto`'s
// destination (`addr2` + `addr_len`); `None` is no destination.
unsafe impl SqeField<(u64, u16)> for Option<&SockAddr> {
    #[inline(always)]
    fn into_field(self) -> (u64, u16) {
        match self {
            Some(addr) => (addr.as_ptr() as u64, addr.len() as u16),
            None => (0, 0),
        }
    }
}
