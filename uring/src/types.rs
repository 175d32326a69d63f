//! The values ops are built from: targets, SQE flags, timespecs, provided
//! buffers and socket addresses.

use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

mod private {
    pub trait Sealed {}
}

/// A raw file descriptor as an op's target.
///
/// Made from anything that has a descriptor: `Fd::from(file.as_fd())`, or
/// implicitly when an op is given `&file`, a `BorrowedFd` or a `RawFd`.
/// An op does not own the descriptor; closing it while the op is in flight
/// makes the op fail or act on whatever file the number names at submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fd(RawFd);

impl Fd {
    /// A target for the raw descriptor `fd`.
    pub const fn from_raw(fd: RawFd) -> Fd {
        Fd(fd)
    }

    /// The raw descriptor.
    pub const fn as_raw(self) -> RawFd {
        self.0
    }
}

impl From<RawFd> for Fd {
    fn from(fd: RawFd) -> Fd {
        Fd(fd)
    }
}

impl From<BorrowedFd<'_>> for Fd {
    fn from(fd: BorrowedFd<'_>) -> Fd {
        Fd(fd.as_raw_fd())
    }
}

/// A registered file: an index into the ring's fixed-file table.
///
/// The only way to get one is [`FixedFiles::get`](crate::FixedFiles::get)
/// on the handle that [`Ring::register_files`](crate::Ring::register_files)
/// returned, so an index that was never registered cannot be named. An op
/// given a `Fixed` target sets `IOSQE_FIXED_FILE` by itself. A `Fixed` does
/// not record its ring: pushed to another ring, it names that ring's slot of
/// the same index (an op on an empty slot fails with `EBADF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fixed(
    /// Set only by the registration handle, after a bounds check.
    pub(crate) u32,
);

impl Fixed {
    /// The index in the fixed-file table.
    pub const fn index(self) -> u32 {
        self.0
    }
}

/// What a [`Fixed`] could be converted from: nothing. A fixed file is taken
/// from the registration handle; this trait exists so that trying to make
/// one from a number fails with a message that says so.
#[diagnostic::on_unimplemented(
    message = "a `Fixed` file cannot be made from `{Self}`",
    label = "not a registered file",
    note = "a `Fixed` comes from the handle registration returned: `ring.register_files(&fds)?.get(index)?`"
)]
pub trait FixedSource: private::Sealed {
    /// The fixed file.
    fn into_fixed(self) -> Fixed;
}

impl<T: FixedSource> From<T> for Fixed {
    fn from(source: T) -> Fixed {
        source.into_fixed()
    }
}

/// What an op's file argument resolves to: a raw [`Fd`] or a [`Fixed`] file.
/// The type decides the `IOSQE_FIXED_FILE` bit.
pub trait Target: Copy + private::Sealed {
    /// Whether this is a fixed-file index.
    const FIXED: bool;
    /// `IOSQE_FIXED_FILE` for a fixed file, else 0.
    const SQE_FLAGS: u8;
    /// The descriptor or index, as the SQE's `fd` field takes it.
    fn raw(&self) -> i32;
}

impl private::Sealed for Fd {}
impl private::Sealed for Fixed {}

impl Target for Fd {
    const FIXED: bool = false;
    const SQE_FLAGS: u8 = 0;
    #[inline(always)]
    fn raw(&self) -> i32 {
        self.0
    }
}

impl Target for Fixed {
    const FIXED: bool = true;
    const SQE_FLAGS: u8 = sys::IOSQE_FIXED_FILE;
    #[inline(always)]
    fn raw(&self) -> i32 {
        self.0 as i32
    }
}

/// Anything an op that takes `fd | fixed` can act on.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a file an op can act on",
    label = "expected a file descriptor or a `Fixed` file",
    note = "pass `&file`, a `BorrowedFd`, a raw fd, or a `Fixed` from the handle `Ring::register_files` returned"
)]
pub trait IntoTarget {
    /// [`Fd`] or [`Fixed`].
    type Target: Target;
    /// The target.
    fn into_target(self) -> Self::Target;
}

/// Anything an op that takes only a raw descriptor can act on.
#[diagnostic::on_unimplemented(
    message = "this op takes a raw file descriptor, not `{Self}`",
    label = "the kernel cannot use a fixed file here",
    note = "pass the file itself (`&file`, `file.as_fd()`) or its raw fd; only ops whose target is `fd | fixed` accept a `Fixed`"
)]
pub trait IntoFd {
    /// The descriptor.
    fn into_fd(self) -> Fd;
}

impl IntoTarget for Fd {
    type Target = Fd;
    #[inline(always)]
    fn into_target(self) -> Fd {
        self
    }
}

impl IntoTarget for RawFd {
    type Target = Fd;
    #[inline(always)]
    fn into_target(self) -> Fd {
        Fd(self)
    }
}

impl IntoTarget for BorrowedFd<'_> {
    type Target = Fd;
    #[inline(always)]
    fn into_target(self) -> Fd {
        Fd(self.as_raw_fd())
    }
}

impl<F: AsFd + ?Sized> IntoTarget for &F {
    type Target = Fd;
    #[inline(always)]
    fn into_target(self) -> Fd {
        Fd(self.as_fd().as_raw_fd())
    }
}

impl IntoFd for Fd {
    #[inline(always)]
    fn into_fd(self) -> Fd {
        self
    }
}

impl IntoFd for RawFd {
    #[inline(always)]
    fn into_fd(self) -> Fd {
        Fd(self)
    }
}

impl IntoFd for BorrowedFd<'_> {
    #[inline(always)]
    fn into_fd(self) -> Fd {
        Fd(self.as_raw_fd())
    }
}

impl<F: AsFd + ?Sized> IntoFd for &F {
    #[inline(always)]
    fn into_fd(self) -> Fd {
        Fd(self.as_fd().as_raw_fd())
    }
}

/// A file an op takes ownership of, to close it: anything that converts into
/// an `OwnedFd` (an `OwnedFd`, a `File`, a socket), or a [`Fixed`] slot.
///
/// A borrowed or raw descriptor is not accepted: closing a descriptor that
/// something else owns would close it under its owner (and the number may
/// be reused by an unrelated file before the owner closes it again).
#[diagnostic::on_unimplemented(
    message = "this op closes its file, so it takes ownership, which `{Self}` does not give",
    label = "the descriptor would be closed under its owner",
    note = "pass the owned file (`file`, an `OwnedFd`) or a `Fixed` slot; a raw fd you own becomes an `OwnedFd` with `unsafe {{ OwnedFd::from_raw_fd(fd) }}`"
)]
pub trait IntoOwnedTarget {
    /// [`Fd`] or [`Fixed`].
    type Target: Target;
    /// The target; a descriptor is released from its owner.
    fn into_owned_target(self) -> Self::Target;
}

#[diagnostic::do_not_recommend]
impl<F: Into<OwnedFd>> IntoOwnedTarget for F {
    type Target = Fd;
    #[inline]
    fn into_owned_target(self) -> Fd {
        Fd(self.into().into_raw_fd())
    }
}

impl IntoOwnedTarget for Fixed {
    type Target = Fixed;
    #[inline(always)]
    fn into_owned_target(self) -> Fixed {
        self
    }
}

/// A file an op takes ownership of, where only a raw descriptor will do:
/// anything that converts into an `OwnedFd`.
#[diagnostic::on_unimplemented(
    message = "this op takes ownership of a raw descriptor, which `{Self}` does not give",
    label = "expected an owned file",
    note = "pass the owned file (`file`, an `OwnedFd`); a raw fd you own becomes an `OwnedFd` with `unsafe {{ OwnedFd::from_raw_fd(fd) }}`"
)]
pub trait IntoOwnedFd {
    /// The descriptor, released from its owner.
    fn into_owned_fd(self) -> Fd;
}

#[diagnostic::do_not_recommend]
impl<F: Into<OwnedFd>> IntoOwnedFd for F {
    #[inline]
    fn into_owned_fd(self) -> Fd {
        Fd(self.into().into_raw_fd())
    }
}

/// A registered file, for ops that act on nothing else.
#[diagnostic::on_unimplemented(
    message = "this op acts on a registered file, not on `{Self}`",
    label = "expected a `Fixed` file",
    note = "register the file with `Ring::register_files` and pass the `Fixed` its handle gives"
)]
pub trait IntoFixed {
    /// The fixed file.
    fn into_fixed(self) -> Fixed;
}

impl IntoFixed for Fixed {
    #[inline(always)]
    fn into_fixed(self) -> Fixed {
        self
    }
}

impl IntoTarget for Fixed {
    type Target = Fixed;
    #[inline(always)]
    fn into_target(self) -> Fixed {
        self
    }
}

/// A `struct __kernel_timespec`: a duration or, with an absolute-timeout
/// flag, a point on the op's clock.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Timespec(sys::__kernel_timespec);

impl Timespec {
    /// `sec` seconds and `nsec` nanoseconds (`nsec` below one billion).
    pub const fn new(sec: u64, nsec: u32) -> Timespec {
        Timespec(sys::__kernel_timespec {
            tv_sec: sec as i64,
            tv_nsec: nsec as i64,
        })
    }

    /// The seconds.
    pub const fn sec(&self) -> u64 {
        self.0.tv_sec as u64
    }

    /// The nanoseconds.
    pub const fn nsec(&self) -> u32 {
        self.0.tv_nsec as u32
    }

    /// The kernel's structure.
    pub const fn into_raw(self) -> sys::__kernel_timespec {
        self.0
    }
}

impl From<Duration> for Timespec {
    #[inline]
    fn from(d: Duration) -> Timespec {
        Timespec::new(d.as_secs(), d.subsec_nanos())
    }
}

impl fmt::Debug for Timespec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0.tv_sec, self.0.tv_nsec)
    }
}

/// The SQE flags a caller chooses: `IO_DRAIN`, `ASYNC`, `CQE_SKIP_SUCCESS`.
///
/// The other bits of the SQE flags byte follow from an op's type, and the
/// constants naming them here are not flags: handing one to `.flags(..)`
/// fails to compile with a note on what sets it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SqeFlags(u8);

/// `IOSQE_FIXED_FILE`: set by a [`Fixed`] target, never by hand.
#[derive(Clone, Copy, Debug)]
pub struct FixedFileBit;
/// `IOSQE_IO_LINK`: set by `.link(..)`, never by hand.
#[derive(Clone, Copy, Debug)]
pub struct IoLinkBit;
/// `IOSQE_IO_HARDLINK`: set by `.hard_link(..)`, never by hand.
#[derive(Clone, Copy, Debug)]
pub struct IoHardlinkBit;
/// `IOSQE_BUFFER_SELECT`: set by a [`BufferSelect`] buffer, never by hand.
#[derive(Clone, Copy, Debug)]
pub struct BufferSelectBit;

impl SqeFlags {
    /// No flag.
    pub const EMPTY: SqeFlags = SqeFlags(0);
    /// `IOSQE_IO_DRAIN`: start only after every earlier SQE has completed.
    pub const IO_DRAIN: SqeFlags = SqeFlags(sys::IOSQE_IO_DRAIN);
    /// `IOSQE_ASYNC`: skip the non-blocking attempt and go to an io-wq worker.
    pub const ASYNC: SqeFlags = SqeFlags(sys::IOSQE_ASYNC);
    /// `IOSQE_CQE_SKIP_SUCCESS`: post no completion if the op succeeds
    /// (Linux 5.17).
    pub const CQE_SKIP_SUCCESS: SqeFlags = SqeFlags(sys::IOSQE_CQE_SKIP_SUCCESS);
    /// Not settable: a [`Fixed`] target sets `IOSQE_FIXED_FILE`.
    pub const FIXED_FILE: FixedFileBit = FixedFileBit;
    /// Not settable: `.link(..)` sets `IOSQE_IO_LINK`.
    pub const IO_LINK: IoLinkBit = IoLinkBit;
    /// Not settable: `.hard_link(..)` sets `IOSQE_IO_HARDLINK`.
    pub const IO_HARDLINK: IoHardlinkBit = IoHardlinkBit;
    /// Not settable: a [`BufferSelect`] buffer sets `IOSQE_BUFFER_SELECT`.
    pub const BUFFER_SELECT: BufferSelectBit = BufferSelectBit;

    /// The flags byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: SqeFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for SqeFlags {
    type Output = SqeFlags;
    fn bitor(self, rhs: SqeFlags) -> SqeFlags {
        SqeFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for SqeFlags {
    fn bitor_assign(&mut self, rhs: SqeFlags) {
        self.0 |= rhs.0;
    }
}

// Combining a settable flag with a type-owned bit keeps the bit's type, so
// that `.flags(..)` rejects the combination with the bit's explanation.
macro_rules! type_owned_bits {
    ($($bit:ident),*) => {$(
        impl std::ops::BitOr<$bit> for SqeFlags {
            type Output = $bit;
            fn bitor(self, rhs: $bit) -> $bit {
                rhs
            }
        }
        impl std::ops::BitOr<SqeFlags> for $bit {
            type Output = $bit;
            fn bitor(self, _: SqeFlags) -> $bit {
                self
            }
        }
    )*};
}

type_owned_bits!(FixedFileBit, IoLinkBit, IoHardlinkBit, BufferSelectBit);

impl fmt::Debug for SqeFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (sys::IOSQE_IO_DRAIN, "IO_DRAIN"),
            (sys::IOSQE_ASYNC, "ASYNC"),
            (sys::IOSQE_CQE_SKIP_SUCCESS, "CQE_SKIP_SUCCESS"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| *name)
            .collect();
        write!(f, "SqeFlags({})", set.join(" | "))
    }
}

/// A provided-buffer group: the id under which `ProvideBuffers` (or a buffer
/// ring) hands buffers to the kernel, and from which ops select one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferGroup(u16);

impl BufferGroup {
    /// The group `id`.
    pub const fn new(id: u16) -> BufferGroup {
        BufferGroup(id)
    }

    /// The group id.
    pub const fn id(self) -> u16 {
        self.0
    }

    /// A selection from this group of a buffer of at most `len` bytes, to
    /// pass to an op in place of its buffer.
    pub const fn select(self, len: u32) -> BufferSelect {
        BufferSelect { group: self, len }
    }
}

/// "Let the kernel pick a buffer from this group": passed to an op that can
/// select a provided buffer (`Read`, `Recv`) in place of a buffer. The op's
/// completion names the buffer it used ([`Cqe::buffer_id`](crate::Cqe::buffer_id)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferSelect {
    group: BufferGroup,
    len: u32,
}

impl BufferSelect {
    /// A selection from `group` of at most `len` bytes.
    pub const fn new(group: BufferGroup, len: u32) -> BufferSelect {
        BufferSelect { group, len }
    }

    /// The group.
    pub const fn group(self) -> BufferGroup {
        self.group
    }

    /// The most bytes the op may transfer.
    pub const fn len(self) -> u32 {
        self.len
    }

    /// Whether the selection allows zero bytes.
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// A region cut into `count` buffers of `buf_len` bytes, for
/// [`ProvideBuffers`](crate::ops::ProvideBuffers). Bytes past the last whole
/// buffer are not provided.
#[derive(Debug)]
pub struct BufferPool<'a> {
    addr: u64,
    buf_len: u32,
    count: u32,
    _bytes: PhantomData<&'a mut [u8]>,
}

impl<'a> BufferPool<'a> {
    /// Cuts `region` into buffers of `buf_len` bytes each.
    pub fn new(region: &'a mut [u8], buf_len: u32) -> BufferPool<'a> {
        let count = match buf_len {
            0 => 0,
            n => (region.len() / n as usize).min(u32::MAX as usize) as u32,
        };
        BufferPool {
            addr: region.as_mut_ptr() as u64,
            buf_len,
            count,
            _bytes: PhantomData,
        }
    }

    pub(crate) fn addr(&self) -> u64 {
        self.addr
    }

    /// The size of each buffer.
    pub fn buf_len(&self) -> u32 {
        self.buf_len
    }

    /// How many buffers the region holds.
    pub fn count(&self) -> u32 {
        self.count
    }
}

/// A socket address in the kernel's layout (`sockaddr_in` / `sockaddr_in6`),
/// for ops that read one (`Connect`).
#[derive(Clone, Copy)]
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr_storage {
        &self.storage
    }

    /// The address's length in bytes.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the address is empty (it never is when built from a
    /// `SocketAddr`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address as a `SocketAddr`, if it is IPv4 or IPv6.
    pub fn as_socket_addr(&self) -> Option<SocketAddr> {
        decode(&self.storage, self.len)
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> SockAddr {
        // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sockaddr_storage` is larger than and aligned for
                // every sockaddr type.
                unsafe { (&mut storage as *mut _ as *mut libc::sockaddr_in).write(sin) };
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: as above.
                unsafe { (&mut storage as *mut _ as *mut libc::sockaddr_in6).write(sin6) };
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        SockAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }
}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_socket_addr() {
            Some(addr) => write!(f, "SockAddr({addr})"),
            None => write!(
                f,
                "SockAddr(family {}, {} bytes)",
                self.storage.ss_family, self.len
            ),
        }
    }
}

/// Room for the peer address an op writes back (`Accept`).
pub struct SockAddrBuf {
    storage: MaybeUninit<libc::sockaddr_storage>,
    len: libc::socklen_t,
}

impl SockAddrBuf {
    /// An empty buffer, large enough for any address.
    pub fn new() -> SockAddrBuf {
        SockAddrBuf {
            storage: MaybeUninit::zeroed(),
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// The storage and its length word, emptied for the kernel to fill: an
    /// address it does not write leaves the buffer empty, not holding the
    /// last one.
    pub(crate) fn as_out_ptrs(&mut self) -> (*mut libc::sockaddr_storage, *mut libc::socklen_t) {
        self.storage = MaybeUninit::zeroed();
        self.len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        (self.storage.as_mut_ptr(), &mut self.len)
    }

    /// The address the kernel wrote, if it is IPv4 or IPv6.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        // SAFETY: the storage was zeroed at creation and the kernel only
        // writes initialised bytes to it.
        decode(unsafe { self.storage.assume_init_ref() }, self.len)
    }
}

impl Default for SockAddrBuf {
    fn default() -> Self {
        SockAddrBuf::new()
    }
}

impl fmt::Debug for SockAddrBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SockAddrBuf")
            .field(&self.socket_addr())
            .finish()
    }
}

fn decode(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match storage.ss_family as libc::c_int {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a `sockaddr_in`.
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says the storage holds a `sockaddr_in6`.
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

flags! {
    /// `RWF_*` flags of reads and writes (`preadv2(2)`).
    pub struct RwFlags: i32 {
        /// `RWF_HIPRI`: high-priority polled I/O.
        const HIPRI = libc::RWF_HIPRI;
        /// `RWF_DSYNC`: per-write `O_DSYNC`.
        const DSYNC = libc::RWF_DSYNC;
        /// `RWF_SYNC`: per-write `O_SYNC`.
        const SYNC = libc::RWF_SYNC;
        /// `RWF_NOWAIT`: fail with `EAGAIN` instead of blocking.
        const NOWAIT = libc::RWF_NOWAIT;
        /// `RWF_APPEND`: per-write `O_APPEND`.
        const APPEND = libc::RWF_APPEND;
    }
}

flags! {
    /// `IORING_TIMEOUT_*` flags of `Timeout` and `LinkTimeout`.
    pub struct TimeoutFlags: u32 {
        /// The timespec is an absolute time, not a duration.
        const ABS = sys::IORING_TIMEOUT_ABS;
        /// Measure on `CLOCK_BOOTTIME` (5.15).
        const BOOTTIME = sys::IORING_TIMEOUT_BOOTTIME;
        /// Measure on `CLOCK_REALTIME` (5.15).
        const REALTIME = sys::IORING_TIMEOUT_REALTIME;
        /// Complete with 0 instead of `-ETIME` when the timer fires (6.0).
        const ETIME_SUCCESS = sys::IORING_TIMEOUT_ETIME_SUCCESS;
        /// Fire repeatedly, `count` times or forever if 0 (6.4).
        const MULTISHOT = sys::IORING_TIMEOUT_MULTISHOT;
    }
}

flags! {
    /// `IORING_ASYNC_CANCEL_*` flags of `Cancel`.
    pub struct CancelFlags: u32 {
        /// Cancel every matching request, not only the first (5.19).
        const ALL = sys::IORING_ASYNC_CANCEL_ALL;
        /// Match any request (5.19).
        const ANY = sys::IORING_ASYNC_CANCEL_ANY;
    }
}

macro_rules! field_flags {
    ($($name:ident: $ty:ty),*) => {$(
        // SAFETY: flags are not addresses.
        unsafe impl crate::op::SqeField<$ty> for $name {
            #[inline(always)]
            fn into_field(self) -> $ty {
                self.bits()
            }
        }
    )*};
}

field_flags!(RwFlags: i32, TimeoutFlags: u32, CancelFlags: u32);
