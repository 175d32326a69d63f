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
    #[cfg(feature = "fault-injection")]
    if let Some(e) = fault::take(fault::Call::Setup) {
        return Err(e);
    }
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
    #[cfg(feature = "fault-injection")]
    fault::record_raw(fault::Call::Setup, ret);
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
    #[cfg(feature = "fault-injection")]
    if let Some(e) = fault::take(fault::Call::Enter) {
        return Err(e);
    }
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
    #[cfg(feature = "fault-injection")]
    fault::record_raw(fault::Call::Enter, ret);
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
    #[cfg(feature = "fault-injection")]
    if let Some(e) = fault::take(fault::Call::Register) {
        return Err(e);
    }
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
    #[cfg(feature = "fault-injection")]
    fault::record_raw(fault::Call::Register, ret);
    cvt(ret).map(|n| n as u32)
}

/// Maps `len` bytes of the ring `fd` at the magic `offset`
/// (`IORING_OFF_SQ_RING`, ...), shared and populated.
pub fn mmap_ring(fd: RawFd, len: usize, offset: i64) -> io::Result<*mut libc::c_void> {
    // SAFETY: a fresh shared mapping chosen by the kernel (addr = NULL)
    // cannot overlap memory Rust knows about.
    unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd,
            offset,
        )
    }
}

/// `len` bytes of address space, inaccessible and backed by nothing
/// (`PROT_NONE`, `MAP_NORESERVE`), held for a mapping to be made later in
/// its place (once it is unmapped).
pub fn mmap_reserve(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: a fresh mapping chosen by the kernel cannot overlap memory
    // Rust knows about.
    unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    }
}

/// The running kernel's `major.minor`, from `uname(2)`; `None` if its
/// release string does not start that way.
pub fn kernel_release() -> Option<(u32, u32)> {
    // SAFETY: `utsname` is plain bytes; uname fills it and cannot fail with
    // a valid pointer.
    let name = unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) != 0 {
            return None;
        }
        name
    };
    let release: Vec<u8> = name
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    parse_release(std::str::from_utf8(&release).ok()?)
}

/// `major.minor` from a release string such as `6.18.0-foo` or a version
/// such as `5.19`.
pub fn parse_release(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A private anonymous mapping of `len` bytes, readable and writable.
pub fn mmap_anonymous(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: a fresh mapping chosen by the kernel cannot overlap memory
    // Rust knows about.
    unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    }
}

/// A private anonymous mapping of `len` bytes in huge pages
/// (`MAP_HUGETLB`), readable and writable.
pub fn mmap_huge(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: a fresh mapping chosen by the kernel cannot overlap memory
    // Rust knows about.
    unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB,
            -1,
            0,
        )
    }
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
    unsafe {
        mmap(
            ptr,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
            -1,
            0,
        )
    }
    .map(drop)
}

/// `mmap(2)`, with its failure as an error (and, with fault injection, a
/// planned failure first).
///
/// # Safety
///
/// As for `mmap(2)`: with `addr` and `MAP_FIXED`, the range must be the
/// caller's own mapping, which the new one replaces.
unsafe fn mmap(
    addr: *mut libc::c_void,
    len: usize,
    prot: i32,
    flags: i32,
    fd: RawFd,
    offset: i64,
) -> io::Result<*mut libc::c_void> {
    #[cfg(feature = "fault-injection")]
    if let Some(e) = fault::take(fault::Call::Mmap) {
        return Err(e);
    }
    // SAFETY: the caller's contract; failure is reported as MAP_FAILED.
    mapped(unsafe { libc::mmap(addr, len, prot, flags, fd, offset) })
}

/// What `mmap(2)` returned: the mapping, or the error behind MAP_FAILED.
fn mapped(ptr: *mut libc::c_void) -> io::Result<*mut libc::c_void> {
    let result = if ptr == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(ptr)
    };
    #[cfg(feature = "fault-injection")]
    fault::record(fault::Call::Mmap, &result);
    result
}

/// Unmaps a mapping made by [`mmap_ring`] or [`mmap_anonymous`].
///
/// # Safety
///
/// `ptr`/`len` must be exactly a live mapping returned by one of them, and
/// nothing may use it afterwards.
pub unsafe fn munmap(ptr: *mut libc::c_void, len: usize) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    if let Some(e) = fault::take(fault::Call::Munmap) {
        return Err(e);
    }
    // SAFETY: the caller hands over a mapping it owns and no longer uses.
    let result = if unsafe { libc::munmap(ptr, len) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    };
    #[cfg(feature = "fault-injection")]
    fault::record(fault::Call::Munmap, &result);
    result
}

/// Fills `buf` from the kernel's random source (`getrandom(2)`), waiting
/// for it to be initialised if it is not yet, and resuming when
/// interrupted.
pub fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        #[cfg(feature = "fault-injection")]
        if let Some(e) = fault::take(fault::Call::Getrandom) {
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        // SAFETY: the kernel writes at most `rest.len()` bytes into `rest`,
        // which is borrowed for the whole call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        #[cfg(feature = "fault-injection")]
        fault::record_libc(fault::Call::Getrandom, n < 0);
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

/// The type of the socket `fd` (`SOCK_STREAM`, `SOCK_DGRAM`, ...), by
/// `getsockopt(2)`'s `SO_TYPE`; an error for a descriptor that is not a
/// socket.
pub fn socket_type(fd: RawFd) -> io::Result<libc::c_int> {
    let mut kind: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `kind`, both
    // borrowed for the call; a number that is not an open socket is an
    // error, not a write.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut kind as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(kind)
}

/// Raises the process's soft `RLIMIT_NOFILE` to `at_least`, if its hard
/// limit lets it (`getrlimit(2)` / `setrlimit(2)`): the kernel refuses a
/// fixed-file table longer than the soft limit (`EMFILE`). Whether the
/// soft limit was raised; past the hard limit it is left as it is.
pub fn raise_nofile_limit(at_least: u32) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into `limit`, borrowed for the
    // call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return false;
    }
    let want = libc::rlim_t::from(at_least);
    if want <= limit.rlim_cur || want > limit.rlim_max {
        return false;
    }
    limit.rlim_cur = want;
    // SAFETY: setrlimit reads one `rlimit`, borrowed for the call.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 }
}

/// The time on `CLOCK_MONOTONIC` (`clock_gettime(2)`), the clock of
/// `std::time::Instant` and of the kernel's timeouts by default.
pub fn monotonic_now() -> std::time::Duration {
    clock_now(libc::CLOCK_MONOTONIC)
}

/// The time on `clock`, `CLOCK_MONOTONIC` or `CLOCK_BOOTTIME`
/// (`clock_gettime(2)`).
pub fn clock_now(clock: libc::clockid_t) -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec the call writes; both clocks
    // callers name exist on every kernel with io_uring, so the call
    // cannot fail.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Whether this process's time namespace moves `CLOCK_MONOTONIC` or
/// `CLOCK_BOOTTIME` by an offset (`/proc/self/timens_offsets`, read once).
/// Kernels before the fix that converts them read io_uring's absolute
/// times (`IORING_TIMEOUT_ABS`, `IORING_ENTER_ABS_TIMER`) on the host's
/// clock, off by the offset: where there is one, the library times
/// deadlines as the time left instead.
pub fn time_namespace_offset() -> bool {
    static OFFSET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::fs::read_to_string("/proc/self/timens_offsets").is_ok_and(|text| {
            text.lines().any(|line| {
                line.split_whitespace()
                    .skip(1)
                    .any(|n| n.parse::<i64>().is_ok_and(|n| n != 0))
            })
        })
    })
}

/// `close(2)`, reporting its error instead of ignoring it.
///
/// # Safety
///
/// `fd` must be a descriptor the caller owns and nothing uses afterwards.
pub unsafe fn close(fd: RawFd) -> io::Result<()> {
    // Linux releases the descriptor whatever close returns, so a planned
    // failure is reported after the real call, not instead of it.
    #[cfg(feature = "fault-injection")]
    let planned = fault::take(fault::Call::Close);
    // SAFETY: the caller hands over ownership of `fd`.
    let result = if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    };
    #[cfg(feature = "fault-injection")]
    {
        fault::record(fault::Call::Close, &result);
        if let Some(e) = planned {
            return Err(e);
        }
    }
    result
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

#[cfg(feature = "fault-injection")]
pub mod fault {
    //! Failure injection, for tests: a plan, kept per thread, of which calls of
    //! each system call fail next and with which errno, that the wrappers of
    //! this module consult before making a call; and counts of the calls they
    //! made and of how the kernel answered.
    //!
    //! It exists only with the `fault-injection` feature of `uring`, which the
    //! library itself never enables (its integration tests do). Without it the
    //! wrappers make their calls and nothing else: not an instruction is added.
    //!
    //! A planned failure of [`Call::Close`] is reported after the real call,
    //! since Linux releases a descriptor whatever `close(2)` returns; every
    //! other planned failure replaces the call, which is not made: the kernel
    //! sees nothing, as when it fails a call before acting on it.
    //!
    //! The library believes a planned errno as it would the kernel's: plan only
    //! what the kernel could answer in the ring's state. (An `EOWNERDEAD`
    //! planned for an SQPOLL ring whose SQ thread lives, say, makes a scope
    //! take back SQEs that thread may be reading.)
    //!
    //! The plan and the counts belong to the calling thread, so tests that run
    //! in parallel threads do not see each other's; a call made on another
    //! thread is neither failed nor counted here.
    //!
    //! ```
    //! use uring::sys::fault::{self, Call};
    //! use uring::{Ring, ops::Nop};
    //! # fn main() -> uring::Result<()> {
    //! let mut ring = Ring::new(8)?;
    //! ring.push(Nop::new().user_data(1))?;
    //! // The next io_uring_enter fails with EAGAIN, without being made.
    //! fault::fail_next(Call::Enter, 1, libc::EAGAIN);
    //! let err = ring.submit().unwrap_err();
    //! assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
    //! assert_eq!(ring.pending(), 1, "the SQE is still queued");
    //! assert_eq!(fault::counts(Call::Enter).injected, 1);
    //! assert_eq!(fault::planned(Call::Enter), 0);
    //! ring.submit_and_wait(1)?;
    //! assert_eq!(ring.completions().count(), 1);
    //! # Ok(())
    //! # }
    //! ```

    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::io;

    /// A system call the library makes, as the plan names it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum Call {
        /// `io_uring_setup(2)`.
        Setup,
        /// `io_uring_enter(2)`, in every use: submits, waits, wake-ups of
        /// an SQ thread, flushes, waits for SQ space.
        Enter,
        /// `io_uring_register(2)`, whatever the opcode.
        Register,
        /// `mmap(2)`: the ring's mappings, anonymous ones, and the
        /// reservations of retired memory.
        Mmap,
        /// `munmap(2)`.
        Munmap,
        /// `close(2)`.
        Close,
        /// `getrandom(2)`.
        Getrandom,
    }

    const CALLS: usize = 7;

    impl Call {
        fn index(self) -> usize {
            self as usize
        }
    }

    /// What the wrappers did with the calls of one system call on this
    /// thread.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Counts {
        /// Calls made: the kernel saw them.
        pub made: u64,
        /// Calls the kernel failed, among those made.
        pub failed: u64,
        /// Planned failures reported (made too for [`Call::Close`], not
        /// made for the others).
        pub injected: u64,
    }

    /// `fail` calls that fail with `errno`, after `skip` that go through.
    struct Step {
        skip: u32,
        fail: u32,
        errno: i32,
    }

    #[derive(Default)]
    struct Thread {
        plans: [VecDeque<Step>; CALLS],
        counts: [Counts; CALLS],
        /// How often each errno came back from the kernel: (call, errno,
        /// count).
        errnos: Vec<(Call, i32, u64)>,
    }

    thread_local! {
        static THREAD: RefCell<Thread> = RefCell::new(Thread::default());
    }

    /// Runs `f` on this thread's state; nothing during the thread's
    /// teardown, once the state is gone.
    fn with<T: Default>(f: impl FnOnce(&mut Thread) -> T) -> T {
        THREAD
            .try_with(|t| f(&mut t.borrow_mut()))
            .unwrap_or_default()
    }

    /// Plans that the next `count` calls of `call` on this thread fail with
    /// `errno`, after the failures planned before.
    pub fn fail_next(call: Call, count: u32, errno: i32) {
        fail_after(call, 0, count, errno);
    }

    /// Plans that, after the failures planned before, `skip` calls of `call`
    /// on this thread go through and the `count` after them fail with
    /// `errno`.
    pub fn fail_after(call: Call, skip: u32, count: u32, errno: i32) {
        with(|t| {
            t.plans[call.index()].push_back(Step {
                skip,
                fail: count,
                errno,
            })
        });
    }

    /// Forgets this thread's plan and counts.
    pub fn reset() {
        with(|t| *t = Thread::default());
    }

    /// The failures of `call` planned on this thread and not reported yet.
    pub fn planned(call: Call) -> u32 {
        with(|t| t.plans[call.index()].iter().map(|s| s.fail).sum())
    }

    /// What the wrappers did with the calls of `call` on this thread since
    /// it started (or since [`reset`]).
    pub fn counts(call: Call) -> Counts {
        with(|t| t.counts[call.index()])
    }

    /// How many calls of `call` made on this thread the kernel failed with
    /// `errno` (planned failures not included).
    pub fn returned(call: Call, errno: i32) -> u64 {
        with(|t| {
            t.errnos
                .iter()
                .find(|&&(c, e, _)| c == call && e == errno)
                .map_or(0, |&(_, _, n)| n)
        })
    }

    /// The planned failure of this call of `call`, if it is one; consumed.
    pub(super) fn take(call: Call) -> Option<io::Error> {
        with(|t| {
            let plan = &mut t.plans[call.index()];
            loop {
                let step = plan.front_mut()?;
                if step.skip > 0 {
                    step.skip -= 1;
                    return None;
                }
                if step.fail == 0 {
                    plan.pop_front();
                    continue;
                }
                let errno = step.errno;
                step.fail -= 1;
                if step.fail == 0 {
                    plan.pop_front();
                }
                t.counts[call.index()].injected += 1;
                return Some(io::Error::from_raw_os_error(errno));
            }
        })
    }

    /// Counts a call made, which returned `ret` (`-errno` on failure).
    pub(super) fn record_raw(call: Call, ret: isize) {
        let errno = (-4095..0).contains(&ret).then(|| -ret as i32);
        count(call, errno);
    }

    /// Counts a call made, which returned `result`.
    pub(super) fn record<T>(call: Call, result: &io::Result<T>) {
        count(
            call,
            result.as_ref().err().and_then(io::Error::raw_os_error),
        );
    }

    /// Counts a libc call made, which set `errno` if it `failed`.
    pub(super) fn record_libc(call: Call, failed: bool) {
        let errno = failed.then(|| io::Error::last_os_error().raw_os_error());
        count(call, errno.flatten());
    }

    fn count(call: Call, errno: Option<i32>) {
        with(|t| {
            let counts = &mut t.counts[call.index()];
            counts.made += 1;
            if let Some(errno) = errno {
                counts.failed += 1;
                match t
                    .errnos
                    .iter_mut()
                    .find(|(c, e, _)| *c == call && *e == errno)
                {
                    Some((_, _, n)) => *n += 1,
                    None => t.errnos.push((call, errno, 1)),
                }
            }
        });
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
