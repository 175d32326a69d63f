//! Every setup option of `io_uring_setup(2)`.

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::ring::Ring;
use crate::sys;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
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
    _wq: PhantomData<&'wq Ring>,
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
    /// shorter non-zero `idle` is one, and zero asks for its default (one
    /// second). Needs `CAP_SYS_NICE` before Linux 5.11.
    pub fn sqpoll(mut self, idle: Duration) -> Builder<'wq> {
        self.sq_thread_idle = Some(idle);
        self.flag(sys::IORING_SETUP_SQPOLL)
    }

    /// Binds the SQ polling thread to `cpu` (`IORING_SETUP_SQ_AFF`); needs
    /// [`sqpoll`](Builder::sqpoll).
    pub fn sq_thread_cpu(mut self, cpu: u32) -> Builder<'wq> {
        self.sq_thread_cpu = Some(cpu);
        self.flag(sys::IORING_SETUP_SQ_AFF)
    }

    /// Shares the worker pool (and SQ thread) of the ring `ring`
    /// (`IORING_SETUP_ATTACH_WQ`).
    pub fn attach_wq<'r>(self, ring: &'r Ring) -> Builder<'r> {
        Builder {
            flags: self.flags | sys::IORING_SETUP_ATTACH_WQ,
            cq_entries: self.cq_entries,
            sq_thread_cpu: self.sq_thread_cpu,
            sq_thread_idle: self.sq_thread_idle,
            wq_fd: Some(ring.as_raw_fd()),
            huge_pages: self.huge_pages,
            _wq: PhantomData,
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
    /// rings, sharing its worker pool. Nothing else can name the ring.
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

    pub(crate) fn huge_pages(&self) -> bool {
        self.huge_pages
    }

    /// Creates a ring of `entries` SQ entries (rounded up to a power of two).
    pub fn build(&self, entries: u32) -> Result<Ring> {
        Ring::with_builder(self, entries)
    }

    /// Creates a ring whose SQEs are `S` ([`Sqe64`](crate::Sqe64) or
    /// [`Sqe128`](crate::Sqe128)) and whose CQEs are `C`
    /// ([`Cqe16`](crate::Cqe16), [`Cqe32`](crate::Cqe32) or
    /// [`CqeMixed`](crate::CqeMixed)), as `IORING_SETUP_SQE128`,
    /// `IORING_SETUP_CQE32` and `IORING_SETUP_CQE_MIXED` ask (5.19; mixed
    /// CQEs 6.18). The sizes are in the ring's type, so the push and read
    /// paths are compiled for them.
    ///
    /// Scopes are for rings of the default sizes; on the others ops go
    /// through [`Ring::push`] and [`Ring::push_unchecked`].
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
        Ring::with_builder(self, entries)
    }
}
