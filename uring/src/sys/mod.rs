//! The kernel ABI: `linux/io_uring.h` and the three io_uring system calls.
//!
//! This is the only module that makes system calls. Everything above it is
//! safe and typed; everything here is a direct, unchecked image of the kernel
//! interface, for callers who need to go below the typed layers.

mod abi;
mod consts;
#[cfg(test)]
mod layout_tests;

pub use abi::*;
pub use consts::*;

use std::io;
use std::os::fd::RawFd;

/// `io_uring_setup(2)`: creates a ring of `entries` SQEs described by `params`
/// (which the kernel fills in) and returns its file descriptor.
///
/// # Safety
///
/// `params` must point to a valid, writable `io_uring_params`; with
/// `IORING_SETUP_NO_MMAP` the addresses in it must be valid memory of the
/// sizes the kernel documents.
pub unsafe fn io_uring_setup(entries: u32, params: *mut io_uring_params) -> io::Result<RawFd> {
    // SAFETY: the caller guarantees `params` is valid; the arguments match
    // the kernel's `io_uring_setup(u32 entries, struct io_uring_params *p)`.
    let ret = unsafe {
        raw::syscall6(
            libc::SYS_io_uring_setup as usize,
            entries as usize,
            params as usize,
            0,
            0,
            0,
            0,
        )
    };
    cvt(ret).map(|fd| fd as RawFd)
}

/// `io_uring_enter(2)`: submits `to_submit` SQEs and/or waits for
/// `min_complete` CQEs, returning the number of SQEs consumed.
///
/// # Safety
///
/// `fd` must be an io_uring file descriptor (or registered ring index with
/// `IORING_ENTER_REGISTERED_RING`), every SQE the kernel may consume must
/// point only to memory valid for the whole operation, and `arg`/`argsz` must
/// describe a valid argument for `flags` (a sigset, or an
/// `io_uring_getevents_arg` with `IORING_ENTER_EXT_ARG`).
pub unsafe fn io_uring_enter(
    fd: RawFd,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const libc::c_void,
    argsz: usize,
) -> io::Result<u32> {
    // SAFETY: forwarded from the caller's contract; the argument list matches
    // `io_uring_enter(unsigned int fd, u32 to_submit, u32 min_complete,
    // u32 flags, const void *argp, size_t argsz)`.
    let ret = unsafe {
        raw::syscall6(
            libc::SYS_io_uring_enter as usize,
            fd as u32 as usize,
            to_submit as usize,
            min_complete as usize,
            flags as usize,
            arg as usize,
            argsz,
        )
    };
    cvt(ret).map(|n| n as u32)
}

/// `io_uring_register(2)`: registers or unregisters resources with the ring.
/// Returns the kernel's non-negative result.
///
/// # Safety
///
/// `arg` must point to what `opcode` expects, `nr_args` elements long, and
/// memory registered this way (buffers, rings) must stay valid for as long as
/// the kernel may use it.
pub unsafe fn io_uring_register(
    fd: RawFd,
    opcode: u32,
    arg: *const libc::c_void,
    nr_args: u32,
) -> io::Result<u32> {
    // SAFETY: forwarded from the caller's contract; the argument list matches
    // `io_uring_register(unsigned int fd, unsigned int opcode, void *arg,
    // unsigned int nr_args)`.
    let ret = unsafe {
        raw::syscall6(
            libc::SYS_io_uring_register as usize,
            fd as u32 as usize,
            opcode as usize,
            arg as usize,
            nr_args as usize,
            0,
            0,
        )
    };
    cvt(ret).map(|n| n as u32)
}

/// Maps `len` bytes of the ring `fd` at the magic `offset`
/// (`IORING_OFF_SQ_RING`, ...), shared and populated.
pub fn mmap_ring(fd: RawFd, len: usize, offset: i64) -> io::Result<*mut libc::c_void> {
    // SAFETY: a fresh shared mapping chosen by the kernel (addr = NULL) cannot
    // overlap memory Rust knows about; failure is reported as MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd,
            offset,
        )
    };
    mapped(ptr)
}

/// A private anonymous mapping of `len` bytes, readable and writable.
pub fn mmap_anonymous(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: a fresh mapping chosen by the kernel cannot overlap memory
    // Rust knows about; failure is reported as MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    mapped(ptr)
}

/// A private anonymous mapping of `len` bytes in huge pages
/// (`MAP_HUGETLB`), readable and writable.
pub fn mmap_huge(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: a fresh mapping chosen by the kernel cannot overlap memory
    // Rust knows about; failure is reported as MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB,
            -1,
            0,
        )
    };
    mapped(ptr)
}

/// Makes `ptr .. ptr + len` inaccessible (`mprotect(PROT_NONE)`).
///
/// # Safety
///
/// The range must be part of a mapping the caller owns, which nothing
/// accesses there afterwards.
pub unsafe fn protect_none(ptr: *mut libc::c_void, len: usize) -> io::Result<()> {
    // SAFETY: the caller owns the range and stops using it.
    if unsafe { libc::mprotect(ptr, len, libc::PROT_NONE) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Replaces the pages of `ptr .. ptr + len` with an inaccessible
/// reservation: the memory is released, and the addresses are never handed
/// out again, so that a late write to them faults instead of landing in
/// memory reused since.
///
/// # Safety
///
/// `ptr`/`len` must be a mapping the caller owns and nothing uses
/// afterwards.
pub unsafe fn reserve_address_range(ptr: *mut libc::c_void, len: usize) -> io::Result<()> {
    // SAFETY: MAP_FIXED over the caller's own mapping replaces exactly it.
    let got = unsafe {
        libc::mmap(
            ptr,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    mapped(got).map(drop)
}

/// What `mmap(2)` returned: the mapping, or the error behind MAP_FAILED.
fn mapped(ptr: *mut libc::c_void) -> io::Result<*mut libc::c_void> {
    if ptr == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(ptr)
    }
}

/// Unmaps a mapping made by [`mmap_ring`] or [`mmap_anonymous`].
///
/// # Safety
///
/// `ptr`/`len` must be exactly a live mapping returned by one of them, and
/// nothing may use it afterwards.
pub unsafe fn munmap(ptr: *mut libc::c_void, len: usize) -> io::Result<()> {
    // SAFETY: the caller hands over a mapping it owns and no longer uses.
    if unsafe { libc::munmap(ptr, len) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Fills `buf` from the kernel's random source (`getrandom(2)`), waiting
/// for it to be initialised if it is not yet, and resuming when
/// interrupted.
pub fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the kernel writes at most `rest.len()` bytes into `rest`,
        // which is borrowed for the whole call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// `close(2)`, reporting its error instead of ignoring it.
///
/// # Safety
///
/// `fd` must be a descriptor the caller owns and nothing uses afterwards.
pub unsafe fn close(fd: RawFd) -> io::Result<()> {
    // SAFETY: the caller hands over ownership of `fd`.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A raw system call's return: `-errno` in the last page of values is an
/// error.
#[inline(always)]
fn cvt(ret: isize) -> io::Result<isize> {
    if (-4095..0).contains(&ret) {
        Err(io::Error::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret)
    }
}

/// The system call instruction itself, so that the hot path of a submit is
/// the kernel entry and nothing around it (no variadic `syscall(3)`, no
/// `errno`).
mod raw {
    /// # Safety
    ///
    /// The arguments must be valid for system call `nr`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) unsafe fn syscall6(
        nr: usize,
        a1: usize,
        a2: usize,
        a3: usize,
        a4: usize,
        a5: usize,
        a6: usize,
    ) -> isize {
        let ret: isize;
        // SAFETY: the x86-64 Linux system call convention: number in rax,
        // arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 clobbered;
        // the kernel may read and write memory, which the asm block allows.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") a1,
                in("rsi") a2,
                in("rdx") a3,
                in("r10") a4,
                in("r8") a5,
                in("r9") a6,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack, preserves_flags),
            );
        }
        ret
    }

    /// # Safety
    ///
    /// The arguments must be valid for system call `nr`.
    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    pub(super) unsafe fn syscall6(
        nr: usize,
        a1: usize,
        a2: usize,
        a3: usize,
        a4: usize,
        a5: usize,
        a6: usize,
    ) -> isize {
        let ret: isize;
        // SAFETY: the AArch64 Linux system call convention: number in x8,
        // arguments in x0..x5, result in x0; the kernel may read and write
        // memory, which the asm block allows.
        unsafe {
            core::arch::asm!(
                "svc 0",
                in("x8") nr,
                inlateout("x0") a1 as isize => ret,
                in("x1") a2,
                in("x2") a3,
                in("x3") a4,
                in("x4") a5,
                in("x5") a6,
                options(nostack, preserves_flags),
            );
        }
        ret
    }

    /// # Safety
    ///
    /// The arguments must be valid for system call `nr`.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    #[inline(always)]
    pub(super) unsafe fn syscall6(
        nr: usize,
        a1: usize,
        a2: usize,
        a3: usize,
        a4: usize,
        a5: usize,
        a6: usize,
    ) -> isize {
        // SAFETY: forwarded from the caller.
        let ret = unsafe { libc::syscall(nr as libc::c_long, a1, a2, a3, a4, a5, a6) };
        if ret < 0 {
            -(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO) as isize)
        } else {
            ret as isize
        }
    }
}
