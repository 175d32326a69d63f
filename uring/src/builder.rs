//! Every setup option of `io_uring_setup(2)`.

use crate::entries::{Cqe16, CqeSize, Sqe64, SqeSize};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::ring::Ring;
use crate::sys;
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// Configures and creates a [`Ring`].
///
/// Options the kernel would reject in combination are rejected here first,
/// with an [`Error::Setup`] that says why. The lifetime is that of the ring
/// whose worker pool [`attach_wq`](Builder::attach_wq) shares (`'static`
/// when there is none).
///
/// ```
/// # fn main() -> uring::Result<()> {
/// let ring = uring::Ring::builder()
///     .cq_entries(1024)
///     .coop_taskrun()
///     .build(256)?;
/// assert_eq!(ring.params().cq_entries(), 1024);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder<'wq> {
    flags: u32,
    cq_entries: Option<u32>,
    sq_thread_cpu: Option<u32>,
    sq_thread_idle: Option<Duration>,
    /// The descriptor of the ring borrowed for `'wq`.
    wq_fd: Option<RawFd>,
    /// NO_MMAP ring memory in huge pages.
    huge_pages: bool,
    /// The ring whose worker pool (and SQ thread) the new ring shares.
    wq: Option<&'wq Ring>,
}

impl Builder<'static> {
    /// A builder with no option set.
    pub fn new() -> Builder<'static> {
        Builder::default()
    }
}

impl<'wq> Builder<'wq> {
    fn flag(mut self, flag: u32) -> Builder<'wq> {
        self.flags |= flag;
        self
    }

    /// Sets the CQ size (`IORING_SETUP_CQSIZE`); it must be at least the SQ
    /// size, and the kernel rounds it up to a power of two. The default is
    /// twice the SQ size.
    pub fn cq_entries(mut self, entries: u32) -> Builder<'wq> {
        self.cq_entries = Some(entries);
        self.flag(sys::IORING_SETUP_CQSIZE)
    }

    /// Starts a kernel thread that polls the SQ (`IORING_SETUP_SQPOLL`) and
    /// sleeps after `idle` without work; submissions then need no system
    /// call while it is awake. The kernel counts whole milliseconds: a
    /// non-zero `idle` is rounded up to them (1 ns is 1 ms, 1.5 ms is 2 ms),
    /// one past `u32::MAX` ms is cut to it, and zero asks for its default
    /// (one second). Needs `CAP_SYS_NICE` before Linux 5.11.
    ///
    /// The SQ thread runs every op with the credentials of the task that
    /// set the ring up, whichever thread pushed it and whatever that
    /// thread's credentials are by then; an op runs with others only
    /// through a [`Personality`](crate::Personality).
    pub fn sqpoll(mut self, idle: Duration) -> Builder<'wq> {
        self.sq_thread_idle = Some(idle);
        self.flag(sys::IORING_SETUP_SQPOLL)
    }

    /// Binds the SQ polling thread to `cpu` (`IORING_SETUP_SQ_AFF`); needs
    /// [`sqpoll`](Builder::sqpoll). A ring attached to another's SQ thread
    /// ([`attach_wq`](Builder::attach_wq)) shares that thread, bound where
    /// its owner asked: the kernel ignores this option there, without
    /// checking `cpu`.
    pub fn sq_thread_cpu(mut self, cpu: u32) -> Builder<'wq> {
        self.sq_thread_cpu = Some(cpu);
        self.flag(sys::IORING_SETUP_SQ_AFF)
    }

    /// Shares the worker pool (and SQ thread) of the ring `ring`
    /// (`IORING_SETUP_ATTACH_WQ`).
    ///
    /// With [`sqpoll`](Builder::sqpoll) on both rings, one SQ thread serves
    /// them, and from then on neither ring takes a chain (a push of one
    /// fails with [`PushErrorKind::SharedSqThread`](crate::PushErrorKind::SharedSqThread)):
    /// Linux 6.18's shared thread submits at most 8 SQEs of each ring per
    /// pass, and a chain its pass cuts runs as two independent ones. For
    /// that, the build fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// while `ring` holds SQEs its SQ thread has not taken (pushed and not
    /// submitted, or submitted moments ago): submit them first, and attach
    /// once its [`pending`](Ring::pending) reads 0. The shared thread
    /// sleeps after the longest idle time of the rings it serves.
    pub fn attach_wq<'r>(self, ring: &'r Ring) -> Builder<'r> {
        Builder {
            flags: self.flags | sys::IORING_SETUP_ATTACH_WQ,
            cq_entries: self.cq_entries,
            sq_thread_cpu: self.sq_thread_cpu,
            sq_thread_idle: self.sq_thread_idle,
            wq_fd: Some(ring.as_raw_fd()),
            huge_pages: self.huge_pages,
            wq: Some(ring),
        }
    }

    /// Busy-polls for completions instead of waiting for interrupts
    /// (`IORING_SETUP_IOPOLL`); only for files opened with `O_DIRECT` on
    /// devices that support polling.
    pub fn iopoll(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_IOPOLL)
    }

    /// Polls with a sleep before the first poll (`IORING_SETUP_HYBRID_IOPOLL`,
    /// 6.13); needs [`iopoll`](Builder::iopoll).
    pub fn hybrid_iopoll(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_HYBRID_IOPOLL)
    }

    /// Clamps sizes above the kernel's maximum to the maximum
    /// (`IORING_SETUP_CLAMP`) instead of failing.
    pub fn clamp(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_CLAMP)
    }

    /// Keeps submitting a batch after an SQE fails to prepare
    /// (`IORING_SETUP_SUBMIT_ALL`, 5.18).
    pub fn submit_all(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_SUBMIT_ALL)
    }

    /// Runs completion work when the task enters the kernel anyway, instead
    /// of interrupting it (`IORING_SETUP_COOP_TASKRUN`, 5.19).
    pub fn coop_taskrun(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_COOP_TASKRUN)
    }

    /// Flags pending task work in the SQ ring (`IORING_SETUP_TASKRUN_FLAG`,
    /// 5.19), so that peeking enters the kernel only when needed; needs
    /// [`coop_taskrun`](Builder::coop_taskrun) or
    /// [`defer_taskrun`](Builder::defer_taskrun).
    pub fn taskrun_flag(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_TASKRUN_FLAG)
    }

    /// Promises that only one task submits (`IORING_SETUP_SINGLE_ISSUER`,
    /// 6.0); the kernel then rejects submissions from other tasks.
    pub fn single_issuer(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_SINGLE_ISSUER)
    }

    /// Runs completion work only when the ring waits for completions
    /// (`IORING_SETUP_DEFER_TASKRUN`, 6.1); needs
    /// [`single_issuer`](Builder::single_issuer).
    ///
    /// That work runs in the submitting thread alone: a ring moved to
    /// another thread gets `EEXIST` from its submissions, waits and
    /// registrations there, and should the submitting thread exit, the
    /// completions of ops it left in flight never reach the CQ (the
    /// kernel ends those ops when the ring is dropped). Keep such a ring on
    /// its thread.
    pub fn defer_taskrun(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_DEFER_TASKRUN)
    }

    /// Creates the SQ without its index array (`IORING_SETUP_NO_SQARRAY`,
    /// 6.6): SQEs are consumed in ring order.
    pub fn no_sqarray(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_NO_SQARRAY)
    }

    /// Puts the rings and SQEs in memory the library allocates rather than
    /// in the kernel's, mapped (`IORING_SETUP_NO_MMAP`, 6.5). The memory
    /// belongs to the ring; the kernel keeps its pages pinned for as long
    /// as the kernel ring lives.
    pub fn no_mmap(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_NO_MMAP)
    }

    /// [`no_mmap`](Builder::no_mmap), in 2 MiB huge pages (`MAP_HUGETLB`):
    /// fewer TLB misses for big rings. Setup fails with the `mmap` error
    /// when the system has no huge pages to give.
    pub fn no_mmap_huge_pages(mut self) -> Builder<'wq> {
        self.huge_pages = true;
        self.flag(sys::IORING_SETUP_NO_MMAP)
    }

    /// Gives the ring no descriptor, only a registered index in the calling
    /// thread's table (`IORING_SETUP_REGISTERED_FD_ONLY`, 6.5; implies
    /// [`no_mmap`](Builder::no_mmap)). Only that thread can then enter the
    /// ring or register with it (elsewhere, calls fail with `EBADF`), and
    /// nothing that needs the descriptor works: `MsgRing` to it, buffer
    /// rings, sharing its worker pool, cloning its registered buffers into
    /// another ring (`EBADF`; cloning into it works). Nothing else can name
    /// the ring.
    pub fn registered_fd_only(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_NO_MMAP | sys::IORING_SETUP_REGISTERED_FD_ONLY)
    }

    /// Creates the ring disabled (`IORING_SETUP_R_DISABLED`, 5.10): nothing
    /// runs until [`Ring::enable`], which leaves time to register
    /// restrictions.
    pub fn r_disabled(self) -> Builder<'wq> {
        self.flag(sys::IORING_SETUP_R_DISABLED)
    }

    /// The setup flags chosen so far.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Checks the options and fills the parameters `io_uring_setup(2)` takes.
    pub(crate) fn params(&self, entries: u32) -> Result<sys::io_uring_params> {
        let has = |flag| self.flags & flag != 0;
        let clamp = has(sys::IORING_SETUP_CLAMP);
        if entries == 0 {
            return Err(Error::Setup("a ring needs at least one SQ entry"));
        }
        if entries > sys::IORING_MAX_ENTRIES && !clamp {
            return Err(Error::Setup(
                "more than 32768 SQ entries; ask for fewer or set clamp()",
            ));
        }
        if let Some(cq) = self.cq_entries {
            if cq == 0 {
                return Err(Error::Setup("a CQ size of 0 is not a size"));
            }
            if cq > sys::IORING_MAX_CQ_ENTRIES && !clamp {
                return Err(Error::Setup(
                    "more than 65536 CQ entries; ask for fewer or set clamp()",
                ));
            }
            // The kernel compares both sizes after rounding them up.
            let sq = entries.min(sys::IORING_MAX_ENTRIES).next_power_of_two();
            if cq.min(sys::IORING_MAX_CQ_ENTRIES).next_power_of_two() < sq {
                return Err(Error::Setup(
                    "the CQ must have at least as many entries as the SQ",
                ));
            }
        }
        if has(sys::IORING_SETUP_SQ_AFF) && !has(sys::IORING_SETUP_SQPOLL) {
            return Err(Error::Setup("sq_thread_cpu() needs sqpoll()"));
        }
        if has(sys::IORING_SETUP_TASKRUN_FLAG)
            && !has(sys::IORING_SETUP_COOP_TASKRUN)
            && !has(sys::IORING_SETUP_DEFER_TASKRUN)
        {
            return Err(Error::Setup(
                "taskrun_flag() needs coop_taskrun() or defer_taskrun()",
            ));
        }
        if has(sys::IORING_SETUP_SQPOLL)
            && (has(sys::IORING_SETUP_COOP_TASKRUN) || has(sys::IORING_SETUP_TASKRUN_FLAG))
        {
            return Err(Error::Setup(
                "coop_taskrun() and taskrun_flag() cannot be used with sqpoll(): the SQ thread \
                 runs the task work",
            ));
        }
        if has(sys::IORING_SETUP_DEFER_TASKRUN) {
            if !has(sys::IORING_SETUP_SINGLE_ISSUER) {
                return Err(Error::Setup("defer_taskrun() needs single_issuer()"));
            }
            if has(sys::IORING_SETUP_SQPOLL) {
                return Err(Error::Setup("defer_taskrun() cannot be used with sqpoll()"));
            }
        }
        if has(sys::IORING_SETUP_HYBRID_IOPOLL) && !has(sys::IORING_SETUP_IOPOLL) {
            return Err(Error::Setup("hybrid_iopoll() needs iopoll()"));
        }
        let mut p = sys::io_uring_params {
            flags: self.flags,
            ..Default::default()
        };
        if let Some(cq) = self.cq_entries {
            p.cq_entries = cq;
        }
        if let Some(cpu) = self.sq_thread_cpu {
            p.sq_thread_cpu = cpu;
        }
        if let Some(idle) = self.sq_thread_idle {
            let millis = idle.as_nanos().div_ceil(1_000_000);
            p.sq_thread_idle = u32::try_from(millis).unwrap_or(u32::MAX);
        }
        if let Some(fd) = self.wq_fd {
            p.wq_fd = fd as u32;
        }
        Ok(p)
    }

    pub(crate) fn wq_fd(&self) -> Option<RawFd> {
        self.wq_fd
    }

    /// The ring whose worker pool the new ring shares.
    pub(crate) fn wq_ring(&self) -> Option<&'wq Ring> {
        self.wq
    }

    pub(crate) fn huge_pages(&self) -> bool {
        self.huge_pages
    }

    /// Creates a ring of `entries` SQ entries (rounded up to a power of
    /// two; with [`clamp`](Builder::clamp), at most the kernel's maximum).
    pub fn build(&self, entries: u32) -> Result<Ring> {
        Ring::with_builder(self, entries, None)
    }

    /// Creates a ring of `entries` SQ entries whose SQEs and rings live in
    /// `memory` (`IORING_SETUP_NO_MMAP`, 6.5, with memory the caller chose:
    /// huge pages, a hugetlbfs or memfd file, a NUMA node), the SQEs at its
    /// start and the SQ and CQ rings after them, each part page aligned.
    ///
    /// The ring needs [`ring_memory_size`](Builder::ring_memory_size) bytes
    /// of it; smaller memory is an [`Error::InvalidArgument`] before the
    /// kernel sees it. The memory goes to the ring (a builder can be cloned,
    /// its memory could not) and is unmapped when the ring is dropped, or
    /// here if setup fails; it is never handed back, since the kernel ring
    /// can outlive the [`Ring`] (its teardown runs on its own time, and a
    /// duplicate of its descriptor keeps it) and still write completions to
    /// its pages. [`no_mmap_huge_pages`](Builder::no_mmap_huge_pages) has
    /// no effect here: the memory's pages are the ones given.
    ///
    /// ```
    /// # fn main() -> uring::Result<()> {
    /// # if uring::sys::kernel_release().is_some_and(|v| v < (6, 5)) { return Ok(()); }
    /// let builder = uring::Ring::builder();
    /// let memory = uring::RingRegion::anonymous(builder.ring_memory_size(64)?)?;
    /// let ring = builder.build_in(64, memory)?;
    /// assert_eq!(ring.params().sq_entries(), 64);
    /// # Ok(())
    /// # }
    /// ```
    pub fn build_in(&self, entries: u32, memory: RingRegion) -> Result<Ring> {
        Ring::with_builder(self, entries, Some(memory))
    }

    /// How many bytes of memory [`build_in`](Builder::build_in) needs for a
    /// ring of `entries` SQ entries with these options: the SQEs and the
    /// rings (header, CQEs, SQ index array), each rounded up to whole pages,
    /// as liburing's `io_uring_memory_size` counts them. The kernel uses no
    /// more than that. Errors as [`build`](Builder::build) does for options
    /// it would reject.
    pub fn ring_memory_size(&self, entries: u32) -> Result<usize> {
        Ring::<Sqe64, Cqe16>::memory_size(self, entries)
    }

    /// [`ring_memory_size`](Builder::ring_memory_size) for a ring of `S`
    /// SQEs and `C` CQEs, as [`build_sized`](Builder::build_sized) makes.
    pub fn ring_memory_size_sized<S: SqeSize, C: CqeSize>(&self, entries: u32) -> Result<usize> {
        Ring::<S, C>::memory_size(self, entries)
    }

    /// [`build_in`](Builder::build_in) for a ring of `S` SQEs and `C` CQEs,
    /// as [`build_sized`](Builder::build_sized) makes; it needs
    /// [`ring_memory_size_sized`](Builder::ring_memory_size_sized) bytes.
    pub fn build_sized_in<S: SqeSize, C: CqeSize>(
        &self,
        entries: u32,
        memory: RingRegion,
    ) -> Result<Ring<S, C>> {
        Ring::with_builder(self, entries, Some(memory))
    }

    /// Creates a ring whose SQEs are `S` ([`Sqe64`](crate::Sqe64) or
    /// [`Sqe128`](crate::Sqe128)) and whose CQEs are `C`
    /// ([`Cqe16`](crate::Cqe16), [`Cqe32`](crate::Cqe32) or
    /// [`CqeMixed`](crate::CqeMixed)), as `IORING_SETUP_SQE128`,
    /// `IORING_SETUP_CQE32` and `IORING_SETUP_CQE_MIXED` ask (5.19; mixed
    /// CQEs 6.18). The sizes are in the ring's type, so the push and read
    /// paths are compiled for them.
    ///
    /// Scopes run on rings of one CQE size (`Cqe16`, `Cqe32`, with either
    /// SQE size); on rings of mixed CQEs, ops go through [`Ring::push`] and
    /// [`Ring::push_unchecked`].
    ///
    /// ```
    /// use uring::{Builder, Cqe32, Sqe128, ops::Nop};
    /// # fn main() -> uring::Result<()> {
    /// let mut ring = Builder::new().build_sized::<Sqe128, Cqe32>(8)?;
    /// ring.push(Nop::new().user_data(5))?;
    /// ring.submit_and_wait(1)?;
    /// let cqe = ring.completions().next().expect("a completion");
    /// assert_eq!((cqe.user_data(), cqe.big_cqe()), (5, [0, 0]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn build_sized<S: SqeSize, C: CqeSize>(&self, entries: u32) -> Result<Ring<S, C>> {
        Ring::with_builder(self, entries, None)
    }
}

/// Memory for a ring's SQEs and rings that the caller chooses
/// (`IORING_SETUP_NO_MMAP`, 6.5): a mapping that this value owns and
/// unmaps when dropped, handed to [`Builder::build_in`] or
/// [`Ring::resize_in`], which keep it for as long as the ring lives.
///
/// The kernel pins the pages it uses at setup and keeps them until the
/// kernel ring is freed, which may be after the [`Ring`] is dropped; once
/// unmapped, the pages are the kernel's alone, so nothing the program does
/// later can see or change what the kernel still writes there. For that
/// reason a region is never handed back.
pub struct RingRegion {
    pub(crate) map: Mapping,
    pub(crate) len: usize,
}

impl RingRegion {
    /// At least `len` bytes (rounded up to whole pages) of zeroed, private,
    /// anonymous memory. Errors with the `mmap` error, or
    /// [`Error::InvalidArgument`] for a `len` of 0.
    pub fn anonymous(len: usize) -> Result<RingRegion> {
        let len = round_up(len, page_size())?;
        Ok(RingRegion {
            map: Mapping::anonymous(len)?,
            len,
        })
    }

    /// [`anonymous`](RingRegion::anonymous) memory in huge pages of the
    /// system's default size (`MAP_HUGETLB`), `len` rounded up to whole
    /// huge pages: fewer TLB misses, and room for several small rings'
    /// worth in one page. Errors with the `mmap` error (`ENOMEM`) when the
    /// system has no huge pages to give (`/proc/sys/vm/nr_hugepages`).
    pub fn anonymous_huge(len: usize) -> Result<RingRegion> {
        let len = round_up(len, huge_page_size())?;
        Ok(RingRegion {
            map: Mapping::huge(len)?,
            len,
        })
    }

    /// Maps `len` bytes of the file `fd` from `offset` on, shared
    /// (`MAP_SHARED | MAP_POPULATE`), for a ring to live in: a hugetlbfs or
    /// memfd file, say. The region owns the mapping; `fd` can be closed
    /// afterwards. `len` is rounded up to whole pages. Errors with the
    /// `mmap` error (an `offset` that is not page aligned, a file that
    /// cannot be mapped), or [`Error::InvalidArgument`] for a `len` of 0 or
    /// an `offset` out of range.
    ///
    /// # Safety
    ///
    /// The kernel reads the SQEs from these pages and writes completions to
    /// them, from the ring's setup until the kernel ring is freed, which can
    /// be after the [`Ring`] is dropped and the region unmapped. For all of
    /// that time nothing else may write to these bytes of the file or
    /// shrink it under them: no other mapping of them (in this process or
    /// another) written to, no `write(2)`, `fallocate(2)` punching holes,
    /// or `ftruncate(2)`. Otherwise the kernel could run SQEs that no code
    /// of the program pushed.
    pub unsafe fn from_file(fd: BorrowedFd<'_>, offset: u64, len: usize) -> Result<RingRegion> {
        let len = round_up(len, page_size())?;
        let offset = i64::try_from(offset)
            .map_err(|_| Error::InvalidArgument(format!("file offset {offset} is out of range")))?;
        Ok(RingRegion {
            map: Mapping::ring(fd.as_raw_fd(), len, offset)?,
            len,
        })
    }

    /// The region's length in bytes (whole pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty; never, since every constructor
    /// refuses an empty one.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region's first byte, for calls that set how its pages are kept
    /// rather than what they hold (`mbind(2)` to a NUMA node, `mlock(2)`).
    /// The bytes belong to the region: reading or writing them through the
    /// pointer is up to the caller's own `unsafe` code, and once the region
    /// is given to a ring the pointer must no longer be used.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    /// Faults every page of the region in, writable
    /// (`MADV_POPULATE_WRITE`, 5.14), so that shortages show here rather
    /// than at setup, and pages land on the NUMA node a policy set with
    /// [`as_ptr`](RingRegion::as_ptr) names. Errors with the `madvise`
    /// error.
    pub fn populate(&mut self) -> Result<()> {
        // SAFETY: the range is this region's own mapping; populating it
        // allocates its pages without changing what they hold (zeroes, or
        // the file's bytes).
        let r = unsafe {
            libc::madvise(
                self.map.as_ptr().cast(),
                self.len,
                libc::MADV_POPULATE_WRITE,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(Error::os(
                "madvise(MADV_POPULATE_WRITE)",
                std::io::Error::last_os_error(),
            ))
        }
    }
}

impl fmt::Debug for RingRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingRegion")
            .field("addr", &self.map.as_ptr())
            .field("len", &self.len)
            .finish()
    }
}

/// The size of the pages that `mmap` maps and the kernel pins.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

/// The system's default huge page size (`Hugepagesize` in `/proc/meminfo`),
/// 2 MiB if it cannot be read.
fn huge_page_size() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("Hugepagesize:"))?;
            let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .filter(|size| size.is_power_of_two())
        .unwrap_or(2 << 20)
}

/// `len` rounded up to a multiple of `unit` (a power of two); an error for
/// an empty length, or one that overflows.
fn round_up(len: usize, unit: usize) -> Result<usize> {
    if len == 0 {
        return Err(Error::InvalidArgument("an empty ring region".into()));
    }
    len.checked_next_multiple_of(unit)
        .ok_or_else(|| Error::InvalidArgument(format!("a ring region of {len} bytes")))
}
