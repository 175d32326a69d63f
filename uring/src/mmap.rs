//! Owned memory mappings: the ring's shared mappings, and anonymous ones for
//! memory the kernel reads or writes on the library's behalf (ring-owned
//! timespecs, buffer rings).

use crate::error::{Error, Result};
use crate::sys;
use std::os::fd::RawFd;
use std::ptr::NonNull;

/// A mapping, unmapped on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a mapping is plain memory owned by this value; nothing ties it to
// a thread.
unsafe impl Send for Mapping {}

impl Mapping {
    /// `len` bytes of the ring `fd` at the magic `offset`.
    pub(crate) fn ring(fd: RawFd, len: usize, offset: i64) -> Result<Mapping> {
        let ptr = sys::mmap_ring(fd, len, offset).map_err(|e| Error::os("mmap", e))?;
        Mapping::from_raw(ptr, len)
    }

    /// `len` bytes of zeroed, private, anonymous memory.
    pub(crate) fn anonymous(len: usize) -> Result<Mapping> {
        let ptr = sys::mmap_anonymous(len.max(1)).map_err(|e| Error::os("mmap", e))?;
        Mapping::from_raw(ptr, len.max(1))
    }

    /// `len` bytes of zeroed, private memory in huge pages (`MAP_HUGETLB`).
    pub(crate) fn huge(len: usize) -> Result<Mapping> {
        let ptr = sys::mmap_huge(len).map_err(|e| Error::os("mmap(MAP_HUGETLB)", e))?;
        Mapping::from_raw(ptr, len)
    }

    /// `len` bytes of address space held for a ring's mapping to be made
    /// later, once this is dropped: inaccessible, backed by nothing, but
    /// counted in the process's address space, so that a limit on it shows
    /// here.
    pub(crate) fn reserve(len: usize) -> Result<Mapping> {
        let ptr = sys::mmap_reserve(len.max(1)).map_err(|e| Error::os("mmap", e))?;
        Mapping::from_raw(ptr, len.max(1))
    }

    fn from_raw(ptr: *mut libc::c_void, len: usize) -> Result<Mapping> {
        let ptr = NonNull::new(ptr.cast()).ok_or(Error::Setup("mmap returned a null mapping"))?;
        Ok(Mapping { ptr, len })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Keeps the mapping out of the children of `fork(2)`
    /// (`MADV_DONTFORK`): nothing is mapped at its addresses in a child.
    pub(crate) fn dont_fork(&self) -> Result<()> {
        // SAFETY: the mapping is this value's own, page aligned and `len`
        // bytes long; the advice changes what a child of `fork` inherits,
        // not the memory or what it holds.
        let rc = unsafe { libc::madvise(self.ptr.as_ptr().cast(), self.len, libc::MADV_DONTFORK) };
        if rc == 0 {
            Ok(())
        } else {
            Err(Error::os(
                "madvise(MADV_DONTFORK)",
                std::io::Error::last_os_error(),
            ))
        }
    }

    /// Releases the memory but keeps its addresses reserved, inaccessible,
    /// for good: for memory the kernel may still read or write after its
    /// owner is gone, which then faults (`EFAULT` for the op) instead of
    /// reaching memory reused since.
    pub(crate) fn retire(self) {
        // SAFETY: the mapping is this value's own, and nothing in user space
        // uses it any more (the caller gives it up).
        let _ = unsafe { sys::reserve_address_range(self.ptr.as_ptr().cast(), self.len) };
        // Reserved or not (if the reservation failed, the memory stays as
        // it was, which is as safe), the addresses are never unmapped.
        std::mem::forget(self);
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `mmap` with this length and is no
        // longer used: its owner is being dropped, and whatever pointed into
        // it is dropped first or with it.
        let _ = unsafe { sys::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
