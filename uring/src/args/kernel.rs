//! Arguments that name kernel objects or memory structures: splice inputs,
//! futex words, memory ranges, processes to wait for, driver commands, and
//! the `libc` structures the kernel reads or fills.

use crate::op::SqeField;
use crate::sys;
use crate::types::{Fd, FutexFlags, IntoTarget, SockAddr, Target};
use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::AtomicU32;

/// The input of a `Splice` or `Tee`: a borrowed descriptor or a fixed file;
/// a fixed one sets `SPLICE_F_FD_IN_FIXED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpliceSource<'a> {
    fd: i32,
    fixed: bool,
    ring: u32,
    _file: PhantomData<BorrowedFd<'a>>,
}

impl<'a, T> From<T> for SpliceSource<'a>
where
    T: IntoTarget,
    T::Target: 'a,
{
    fn from(target: T) -> SpliceSource<'a> {
        let target = target.into_target();
        let fixed = <T::Target as Target>::FIXED;
        SpliceSource {
            fd: target.raw(),
            fixed,
            // The ring a fixed input belongs to: the only one it fits.
            ring: target.ring(),
            _file: PhantomData,
        }
    }
}

// SAFETY: a descriptor and a flag are not addresses.
unsafe impl SqeField<(i32, u32)> for SpliceSource<'_> {
    #[inline(always)]
    fn into_field(self) -> (i32, u32) {
        let flag = if self.fixed {
            sys::SPLICE_F_FD_IN_FIXED
        } else {
            0
        };
        (self.fd, flag)
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        !self.fixed || self.ring == ring
    }
}

/// The words of a `FutexWaitV`: each names a futex word and the value to
/// wait on (`struct futex_waitv`). The word is 32 bits wide.
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
            // The size is the word's: four bytes, nothing read past them.
            flags: flags.bits() | sys::FUTEX2_SIZE_U32,
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

/// The children a `WaitId` waits for (`idtype` and `id` of `waitid(2)`): a
/// process, a process group, any child, or the process a borrowed pidfd
/// names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct WaitIdTarget<'a> {
    idtype: u32,
    id: i32,
    _pidfd: PhantomData<BorrowedFd<'a>>,
}

impl WaitIdTarget<'static> {
    /// The child with process id `pid` (`P_PID`).
    pub const fn pid(pid: libc::pid_t) -> WaitIdTarget<'static> {
        WaitIdTarget {
            idtype: libc::P_PID,
            id: pid,
            _pidfd: PhantomData,
        }
    }

    /// Any child in process group `pgid` (`P_PGID`; 0 for the caller's).
    pub const fn pgid(pgid: libc::pid_t) -> WaitIdTarget<'static> {
        WaitIdTarget {
            idtype: libc::P_PGID,
            id: pgid,
            _pidfd: PhantomData,
        }
    }

    /// Any child (`P_ALL`).
    pub const fn all() -> WaitIdTarget<'static> {
        WaitIdTarget {
            idtype: libc::P_ALL,
            id: 0,
            _pidfd: PhantomData,
        }
    }
}

impl<'a> WaitIdTarget<'a> {
    /// The child a pidfd names (`P_PIDFD`), borrowed for the op.
    pub fn pidfd(pidfd: BorrowedFd<'a>) -> WaitIdTarget<'a> {
        WaitIdTarget {
            idtype: libc::P_PIDFD,
            id: pidfd.as_raw_fd(),
            _pidfd: PhantomData,
        }
    }
}

impl fmt::Debug for WaitIdTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitIdTarget")
            .field("idtype", &self.idtype)
            .field("id", &self.id)
            .finish()
    }
}

// SAFETY: an id type and a process id (or a pidfd borrowed for the op's
// lifetime) are not addresses; WAITID reads them from `len` and `fd`.
unsafe impl SqeField<(u32, i32)> for WaitIdTarget<'_> {
    #[inline(always)]
    fn into_field(self) -> (u32, i32) {
        (self.idtype, self.id)
    }
}

// SAFETY: the address of a futex word borrowed for the op's lifetime; the
// kernel reads (and compares) it atomically, four bytes (see `FutexFlags`).
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

/// Where a [`Pipe`](crate::ops::Pipe) writes the numbers of its two ends:
/// two [`RawFd`]s, or eight bytes (the read end's number in the first
/// four, in native byte order), such as those of a buffer given to a
/// scope with [`push_owned`](crate::Scope::push_owned), whose completion
/// then hands the ends over with
/// [`take_pipe`](crate::ScopeCqe::take_pipe).
#[derive(Debug)]
pub struct PipeFds<'a> {
    addr: *mut u8,
    _borrow: PhantomData<&'a mut [u8; 8]>,
}

impl<'a> From<&'a mut [RawFd; 2]> for PipeFds<'a> {
    fn from(fds: &'a mut [RawFd; 2]) -> PipeFds<'a> {
        PipeFds {
            addr: fds.as_mut_ptr().cast(),
            _borrow: PhantomData,
        }
    }
}

impl<'a> From<&'a mut [u8; 8]> for PipeFds<'a> {
    fn from(bytes: &'a mut [u8; 8]) -> PipeFds<'a> {
        PipeFds {
            addr: bytes.as_mut_ptr(),
            _borrow: PhantomData,
        }
    }
}

// SAFETY: the address of eight bytes borrowed exclusively for the op's
// lifetime (`'a`); the kernel writes the new pipe's two ends there
// (`copy_to_user`, which needs no alignment).
unsafe impl SqeField<u64> for PipeFds<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self.addr as u64
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

// SAFETY: a descriptor borrowed for the op's lifetime is not an address; the
// kernel reads it from a 32-bit field or the low half of a 64-bit one.
unsafe impl SqeField<u32> for Fd<'_> {
    #[inline(always)]
    fn into_field(self) -> u32 {
        self.as_raw() as u32
    }
}

// SAFETY: as above.
unsafe impl SqeField<u64> for Fd<'_> {
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
