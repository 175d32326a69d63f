//! What `io_uring_setup(2)` reported about a ring.

use crate::sys;

flags! {
    /// The `IORING_FEAT_*` bits: what the running kernel's io_uring can do.
    pub struct Features: u32 {
        /// SQ and CQ rings share one mapping (5.4).
        const SINGLE_MMAP = sys::IORING_FEAT_SINGLE_MMAP;
        /// Completions are never dropped when the CQ is full; they wait in an
        /// overflow list until there is room (5.5).
        const NODROP = sys::IORING_FEAT_NODROP;
        /// Everything an SQE points to has been read once the kernel consumed
        /// the SQE (5.5).
        const SUBMIT_STABLE = sys::IORING_FEAT_SUBMIT_STABLE;
        /// An offset of -1 reads or writes at the file position (5.6).
        const RW_CUR_POS = sys::IORING_FEAT_RW_CUR_POS;
        /// Requests run with the submitting task's credentials (5.6).
        const CUR_PERSONALITY = sys::IORING_FEAT_CUR_PERSONALITY;
        /// Pollable files are polled internally instead of punted to a
        /// worker (5.7).
        const FAST_POLL = sys::IORING_FEAT_FAST_POLL;
        /// `poll32_events` is honoured (5.9).
        const POLL_32BITS = sys::IORING_FEAT_POLL_32BITS;
        /// SQPOLL rings may use non-fixed files (5.11).
        const SQPOLL_NONFIXED = sys::IORING_FEAT_SQPOLL_NONFIXED;
        /// `io_uring_enter(2)` takes an extended argument, so waits can have
        /// a timeout (5.11).
        const EXT_ARG = sys::IORING_FEAT_EXT_ARG;
        /// io-wq workers are native threads of the submitting task (5.12).
        const NATIVE_WORKERS = sys::IORING_FEAT_NATIVE_WORKERS;
        /// Registered resources can carry tags (5.13).
        const RSRC_TAGS = sys::IORING_FEAT_RSRC_TAGS;
        /// `IOSQE_CQE_SKIP_SUCCESS` is supported (5.17).
        const CQE_SKIP = sys::IORING_FEAT_CQE_SKIP;
        /// Files of linked requests are assigned when the request runs (5.17).
        const LINKED_FILE = sys::IORING_FEAT_LINKED_FILE;
        /// The ring fd can be registered for register calls (6.3).
        const REG_REG_RING = sys::IORING_FEAT_REG_REG_RING;
        /// Send and receive bundles (6.10).
        const RECVSEND_BUNDLE = sys::IORING_FEAT_RECVSEND_BUNDLE;
        /// Waits take a minimum timeout (6.12).
        const MIN_TIMEOUT = sys::IORING_FEAT_MIN_TIMEOUT;
        /// Reads and writes take attributes (6.14).
        const RW_ATTR = sys::IORING_FEAT_RW_ATTR;
        /// Waits can be excluded from iowait accounting (6.15).
        const NO_IOWAIT = sys::IORING_FEAT_NO_IOWAIT;
    }
}

flags! {
    /// The `IORING_SETUP_*` bits a ring was created with.
    pub struct SetupFlags: u32 {
        /// Busy-poll for completions (`IORING_SETUP_IOPOLL`).
        const IOPOLL = sys::IORING_SETUP_IOPOLL;
        /// A kernel thread polls the SQ (`IORING_SETUP_SQPOLL`).
        const SQPOLL = sys::IORING_SETUP_SQPOLL;
        /// The SQ thread is bound to a CPU (`IORING_SETUP_SQ_AFF`).
        const SQ_AFF = sys::IORING_SETUP_SQ_AFF;
        /// The CQ size was chosen (`IORING_SETUP_CQSIZE`).
        const CQSIZE = sys::IORING_SETUP_CQSIZE;
        /// Sizes were clamped to the maximum (`IORING_SETUP_CLAMP`).
        const CLAMP = sys::IORING_SETUP_CLAMP;
        /// Shares another ring's worker pool (`IORING_SETUP_ATTACH_WQ`).
        const ATTACH_WQ = sys::IORING_SETUP_ATTACH_WQ;
        /// Created disabled (`IORING_SETUP_R_DISABLED`).
        const R_DISABLED = sys::IORING_SETUP_R_DISABLED;
        /// Keeps submitting after an SQE fails (`IORING_SETUP_SUBMIT_ALL`).
        const SUBMIT_ALL = sys::IORING_SETUP_SUBMIT_ALL;
        /// Cooperative task running (`IORING_SETUP_COOP_TASKRUN`).
        const COOP_TASKRUN = sys::IORING_SETUP_COOP_TASKRUN;
        /// Pending task work is flagged in the SQ (`IORING_SETUP_TASKRUN_FLAG`).
        const TASKRUN_FLAG = sys::IORING_SETUP_TASKRUN_FLAG;
        /// 128-byte SQEs (`IORING_SETUP_SQE128`).
        const SQE128 = sys::IORING_SETUP_SQE128;
        /// 32-byte CQEs (`IORING_SETUP_CQE32`).
        const CQE32 = sys::IORING_SETUP_CQE32;
        /// One task submits (`IORING_SETUP_SINGLE_ISSUER`).
        const SINGLE_ISSUER = sys::IORING_SETUP_SINGLE_ISSUER;
        /// Task work runs only when waiting (`IORING_SETUP_DEFER_TASKRUN`).
        const DEFER_TASKRUN = sys::IORING_SETUP_DEFER_TASKRUN;
        /// No SQ index array (`IORING_SETUP_NO_SQARRAY`).
        const NO_SQARRAY = sys::IORING_SETUP_NO_SQARRAY;
        /// Hybrid polling (`IORING_SETUP_HYBRID_IOPOLL`).
        const HYBRID_IOPOLL = sys::IORING_SETUP_HYBRID_IOPOLL;
        /// The rings are in memory the program gave (`IORING_SETUP_NO_MMAP`).
        const NO_MMAP = sys::IORING_SETUP_NO_MMAP;
        /// The ring has no descriptor, only a registered index
        /// (`IORING_SETUP_REGISTERED_FD_ONLY`).
        const REGISTERED_FD_ONLY = sys::IORING_SETUP_REGISTERED_FD_ONLY;
        /// 16-byte CQEs with 32-byte ones among them
        /// (`IORING_SETUP_CQE_MIXED`).
        const CQE_MIXED = sys::IORING_SETUP_CQE_MIXED;
    }
}

/// The parameters the kernel filled in when it created a ring: sizes, the
/// setup flags in force, and the features of the running kernel.
#[derive(Clone, Copy)]
pub struct Params(pub(crate) sys::io_uring_params);

impl Params {
    /// The number of SQ entries: what was asked, rounded up to a power of
    /// two, or the kernel's maximum (32768) for more with
    /// [`Builder::clamp`](crate::Builder::clamp). A [`Ring::resize`](crate::Ring::resize)
    /// updates it.
    pub fn sq_entries(&self) -> u32 {
        self.0.sq_entries
    }

    /// The number of CQ entries.
    pub fn cq_entries(&self) -> u32 {
        self.0.cq_entries
    }

    /// The setup flags the ring was created with.
    pub fn setup_flags(&self) -> SetupFlags {
        SetupFlags(self.0.flags)
    }

    /// The features of the running kernel.
    pub fn features(&self) -> Features {
        Features(self.0.features)
    }

    /// Whether the running kernel has every feature of `features`.
    pub fn has(&self, features: Features) -> bool {
        self.features().contains(features)
    }

    /// The SQ thread's idle time in milliseconds that the ring asked for
    /// at setup (SQPOLL rings), as the kernel reports it back. Not always
    /// the thread's own: an idle time of 0 asks for the kernel's default (1
    /// s), and a thread shared by rings ([`Builder::attach_wq`](crate::Builder::attach_wq))
    /// sleeps after the longest idle time of the rings it serves.
    pub fn sq_thread_idle(&self) -> u32 {
        self.0.sq_thread_idle
    }

    /// The CPU the ring asked its SQ thread to be bound to (SQPOLL rings
    /// with a CPU). A ring attached to another's SQ thread
    /// ([`Builder::attach_wq`](crate::Builder::attach_wq)) reads the CPU it
    /// asked for, which the kernel ignores: the thread runs where its
    /// owner's was bound.
    pub fn sq_thread_cpu(&self) -> u32 {
        self.0.sq_thread_cpu
    }

    /// The raw structure.
    pub fn as_raw(&self) -> &sys::io_uring_params {
        &self.0
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("sq_entries", &self.sq_entries())
            .field("cq_entries", &self.cq_entries())
            .field("setup_flags", &self.setup_flags())
            .field("features", &self.features())
            .finish()
    }
}
