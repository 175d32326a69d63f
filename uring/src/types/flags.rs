//! Flag sets of the SQE: the flags byte a caller may set, and the flags
//! fields of the ops.

use crate::sys;
use std::fmt;

/// The SQE flags a caller chooses: `IO_DRAIN`, `ASYNC`, `CQE_SKIP_SUCCESS`.
///
/// The other bits of the SQE flags byte follow from an op's type, and the
/// constants naming them here are not flags: handing one to `.flags(..)`
/// fails to compile with a note on what sets it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SqeFlags(u8);

/// `IOSQE_FIXED_FILE`: set by a [`Fixed`](crate::Fixed) target, never by hand.
#[derive(Clone, Copy, Debug)]
pub struct FixedFileBit;
/// `IOSQE_IO_LINK`: set by `.link(..)`, never by hand.
#[derive(Clone, Copy, Debug)]
pub struct IoLinkBit;
/// `IOSQE_IO_HARDLINK`: set by `.hard_link(..)`, never by hand.
#[derive(Clone, Copy, Debug)]
pub struct IoHardlinkBit;
/// `IOSQE_BUFFER_SELECT`: set by a [`BufferSelect`](crate::BufferSelect) buffer, never by hand.
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
    /// Not settable: a [`Fixed`](crate::Fixed) target sets `IOSQE_FIXED_FILE`.
    pub const FIXED_FILE: FixedFileBit = FixedFileBit;
    /// Not settable: `.link(..)` sets `IOSQE_IO_LINK`.
    pub const IO_LINK: IoLinkBit = IoLinkBit;
    /// Not settable: `.hard_link(..)` sets `IOSQE_IO_HARDLINK`.
    pub const IO_HARDLINK: IoHardlinkBit = IoHardlinkBit;
    /// Not settable: a [`BufferSelect`](crate::BufferSelect) buffer sets `IOSQE_BUFFER_SELECT`.
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

// The flags fields of the ops. Each set names only the bits whose effect the
// library models: a bit that makes the kernel read another field (a fixed
// buffer index, a descriptor to match, an update's timespec) or read memory
// differently (a vector where a buffer was given) is set only by the typed
// form that also supplies what it needs.

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
        /// `RWF_NOAPPEND`: a write at its offset on a file opened with
        /// `O_APPEND` (6.9).
        const NOAPPEND = libc::RWF_NOAPPEND;
        /// `RWF_ATOMIC`: the write lands whole or not at all, as the
        /// file's atomic-write limits allow (`statx`'s `STATX_WRITE_ATOMIC`;
        /// 6.11); refused (`EINVAL`, `EOPNOTSUPP`) where they do not.
        const ATOMIC = libc::RWF_ATOMIC;
        /// `RWF_DONTCACHE`: buffered I/O whose pages leave the page cache
        /// once done (6.14); `EOPNOTSUPP` on file systems without it.
        const DONTCACHE = libc::RWF_DONTCACHE;
    }
}

flags! {
    /// `IO_INTEGRITY_CHK_*` flags of a read's or write's protection
    /// information ([`PiAttr`](crate::PiAttr)): which of its tags the
    /// device checks.
    pub struct IntegrityFlags: u16 {
        /// `IO_INTEGRITY_CHK_GUARD`: the guard tag (the data's checksum).
        const GUARD = crate::sys::IO_INTEGRITY_CHK_GUARD;
        /// `IO_INTEGRITY_CHK_REFTAG`: the reference tag (the block's
        /// number, from the seed on).
        const REFTAG = crate::sys::IO_INTEGRITY_CHK_REFTAG;
        /// `IO_INTEGRITY_CHK_APPTAG`: the application tag.
        const APPTAG = crate::sys::IO_INTEGRITY_CHK_APPTAG;
    }
}

flags! {
    /// `IORING_TIMEOUT_*` flags of `Timeout` and `LinkTimeout`. (The update
    /// flags belong to the typed update ops.)
    pub struct TimeoutFlags: u32 {
        /// The timespec is an absolute time, not a duration.
        const ABS = sys::IORING_TIMEOUT_ABS;
        /// Measure on `CLOCK_BOOTTIME` (5.15).
        const BOOTTIME = sys::IORING_TIMEOUT_BOOTTIME;
        /// Measure on `CLOCK_REALTIME` (5.15).
        const REALTIME = sys::IORING_TIMEOUT_REALTIME;
        /// A timer that fires is no failure (5.16): it still completes
        /// with `-ETIME`, but the ops linked after it run rather than end
        /// with `-ECANCELED`.
        const ETIME_SUCCESS = sys::IORING_TIMEOUT_ETIME_SUCCESS;
        /// Fire repeatedly, `count` times or forever if 0 (6.4). An update
        /// (`TimeoutUpdate`) sets the count to 0: the timeout then fires
        /// until it is removed. Each firing but the last is flagged
        /// `IORING_CQE_F_MORE`.
        const MULTISHOT = sys::IORING_TIMEOUT_MULTISHOT;
    }
}

flags! {
    /// `IORING_ASYNC_CANCEL_*` flags of `Cancel` by `user_data`. (Matching by
    /// descriptor or opcode reads other fields: those are typed forms.)
    pub struct CancelFlags: u32 {
        /// Cancel every matching request, not only the first (5.19).
        const ALL = sys::IORING_ASYNC_CANCEL_ALL;
        /// Match any request (5.19).
        const ANY = sys::IORING_ASYNC_CANCEL_ANY;
    }
}

flags! {
    /// `IORING_FSYNC_*` flags of `Fsync`.
    pub struct FsyncFlags: u32 {
        /// Sync data only, like `fdatasync(2)`.
        const DATASYNC = sys::IORING_FSYNC_DATASYNC;
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
        /// Normal data to read (`POLLRDNORM`; on Linux, as `IN`).
        const RDNORM = libc::POLLRDNORM as u32;
        /// Priority-band data to read (`POLLRDBAND`).
        const RDBAND = libc::POLLRDBAND as u32;
        /// Room to write normal data (`POLLWRNORM`; on Linux, as `OUT`).
        const WRNORM = libc::POLLWRNORM as u32;
        /// Room to write priority-band data (`POLLWRBAND`).
        const WRBAND = libc::POLLWRBAND as u32;
        /// Exclusive wake-up (`EPOLLEXCLUSIVE`).
        const EXCLUSIVE = libc::EPOLLEXCLUSIVE as u32;
    }
}

flags! {
    /// `IORING_POLL_*` flags of `PollAdd` (in the SQE's `len`).
    pub struct PollFlags: u32 {
        /// Keep polling: a completion (flagged `IORING_CQE_F_MORE`) each
        /// time the file is ready (5.13).
        const MULTI = sys::IORING_POLL_ADD_MULTI;
        /// `IORING_POLL_ADD_LEVEL`: level-triggered rather than
        /// edge-triggered. The kernel's header defines it, but no released
        /// Linux (6.18 included) takes it: `PollAdd` refuses it with
        /// `-EINVAL`, as its updates do. A one-shot poll already completes
        /// at once on a file that is ready; a multishot poll is
        /// edge-triggered.
        const LEVEL = sys::IORING_POLL_ADD_LEVEL;
    }
}

flags! {
    /// `SPLICE_F_*` flags of `Splice` and `Tee`. (`SPLICE_F_FD_IN_FIXED`
    /// follows from the input's type.)
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
    /// `FUTEX2_*` flags of the futex ops. The word size is not among them: a
    /// futex here is an `AtomicU32`, and the ops always say so.
    pub struct FutexFlags: u32 {
        /// The futex is private to this process.
        const PRIVATE = sys::FUTEX2_PRIVATE;
    }
}

flags! {
    /// `IORING_RECVSEND_*` flags of `Recv` (in the SQE's `ioprio`).
    pub struct RecvFlags: u16 {
        /// Poll the socket before the first attempt, expecting no data yet.
        const POLL_FIRST = sys::IORING_RECVSEND_POLL_FIRST;
        /// Receive again each time data arrives, into a provided buffer each
        /// time (needs a `BufferSelect`; 6.0). Completions are flagged
        /// `IORING_CQE_F_MORE` while more will come.
        const MULTISHOT = sys::IORING_RECV_MULTISHOT;
        /// Fill several provided buffers in one receive (needs a
        /// `BufferSelect`; 6.10): one completion names the first, and
        /// [`BufRing::claim_bundle`](crate::BufRing::claim_bundle) hands
        /// out them all.
        const BUNDLE = sys::IORING_RECVSEND_BUNDLE;
    }
}

flags! {
    /// `IORING_RECVSEND_*` flags of `Send`, `SendMsg` and `RecvMsg` (in the
    /// SQE's `ioprio`).
    pub struct SendFlags: u16 {
        /// Poll the socket before the first attempt.
        const POLL_FIRST = sys::IORING_RECVSEND_POLL_FIRST;
        /// Send from several provided buffers in one go (`Send` given a
        /// `BufferSelect`, 6.10): one completion names the first, and
        /// [`BufRing::claim_bundle`](crate::BufRing::claim_bundle) takes
        /// them all back. The selection's length caps the whole send:
        /// [`BufRing::select`](crate::BufRing::select) gives one buffer's,
        /// so a bundle that may send several selects with
        /// `ring.group().select(0)` (no cap), as liburing's
        /// `io_uring_prep_send_bundle` does.
        ///
        /// Without a `BufferSelect`, earlier kernels refuse it (`EINVAL`);
        /// Linux 6.18 sends, and may post the count flagged
        /// `IORING_CQE_F_MORE` and then a last completion of 0. Scopes and
        /// the reactor keep the op's memory until the last completion.
        const BUNDLE = sys::IORING_RECVSEND_BUNDLE;
    }
}

flags! {
    /// `IORING_RECVSEND_*` and `IORING_SEND_ZC_*` flags of `SendZc` and
    /// `SendMsgZc` (in the SQE's `ioprio`).
    pub struct SendZcFlags: u16 {
        /// Poll the socket before the first attempt.
        const POLL_FIRST = sys::IORING_RECVSEND_POLL_FIRST;
        /// Report in the notification whether the data was copied after all
        /// ([`Cqe::zc_copied`](crate::Cqe::zc_copied)).
        const REPORT_USAGE = sys::IORING_SEND_ZC_REPORT_USAGE;
    }
}

flags! {
    /// `IORING_ACCEPT_*` flags of `Accept` (in the SQE's `ioprio`).
    pub struct AcceptFlags: u16 {
        /// Accept again each time a connection arrives (5.19); completions
        /// are flagged `IORING_CQE_F_MORE` while more will come.
        const MULTISHOT = sys::IORING_ACCEPT_MULTISHOT;
        /// Fail with `EAGAIN` rather than wait when no connection is
        /// pending (6.10).
        const DONTWAIT = sys::IORING_ACCEPT_DONTWAIT;
        /// Poll the socket before the first attempt (6.10).
        const POLL_FIRST = sys::IORING_ACCEPT_POLL_FIRST;
    }
}

flags! {
    /// `MSG_*` flags of sends and receives (`send(2)`, `recv(2)`). Flags
    /// that hand the kernel pages to keep after the op completes
    /// (`MSG_ZEROCOPY`; the zero-copy ops say so by their type) or that
    /// only the kernel may set are not among them.
    pub struct MsgFlags: i32 {
        /// Process out-of-band data.
        const OOB = libc::MSG_OOB;
        /// Look at the data without removing it (receives).
        const PEEK = libc::MSG_PEEK;
        /// Bypass routing, send on a directly connected network.
        const DONTROUTE = libc::MSG_DONTROUTE;
        /// Return the real length of a datagram or control data even when
        /// it was truncated.
        const TRUNC = libc::MSG_TRUNC;
        /// Fail with `EAGAIN` rather than block.
        const DONTWAIT = libc::MSG_DONTWAIT;
        /// End of record.
        const EOR = libc::MSG_EOR;
        /// Wait for the full request (receives).
        const WAITALL = libc::MSG_WAITALL;
        /// Tell the link layer forward progress happened.
        const CONFIRM = libc::MSG_CONFIRM;
        /// Read from the socket's error queue (receives).
        const ERRQUEUE = libc::MSG_ERRQUEUE;
        /// Do not raise `SIGPIPE` (the kernel adds it to every send).
        const NOSIGNAL = libc::MSG_NOSIGNAL;
        /// More data follows (sends).
        const MORE = libc::MSG_MORE;
        /// Received descriptors are close-on-exec (`RecvMsg`).
        const CMSG_CLOEXEC = libc::MSG_CMSG_CLOEXEC;
    }
}

flags! {
    /// `IORING_MSG_RING_*` flags of `MsgRing`.
    pub struct MsgRingFlags: u32 {
        /// Post no completion on the target ring (5.18+; for a descriptor
        /// passed along).
        const CQE_SKIP = sys::IORING_MSG_RING_CQE_SKIP;
    }
}

flags! {
    /// `IORING_FIXED_FD_*` flags of `FixedFdInstall`.
    pub struct InstallFlags: u32 {
        /// The new descriptor is not close-on-exec.
        const NO_CLOEXEC = sys::IORING_FIXED_FD_NO_CLOEXEC;
    }
}

macro_rules! field_flags {
    ($($name:ident: $ty:ty),*) => {$(
        // SAFETY: flags are not addresses, and the named bits of each set
        // make the kernel read nothing the op does not carry.
        unsafe impl crate::op::SqeField<$ty> for $name {
            #[inline(always)]
            fn into_field(self) -> $ty {
                self.bits() as $ty
            }
        }
    )*};
}

field_flags!(
    RwFlags: i32,
    TimeoutFlags: u32,
    CancelFlags: u32,
    FsyncFlags: u32,
    PollFlags: u32,
    SpliceFlags: u32,
    RecvFlags: u16,
    SendFlags: u16,
    SendZcFlags: u16,
    AcceptFlags: u16,
    MsgFlags: u32,
    MsgRingFlags: u32,
    InstallFlags: u32
);

// SAFETY: events are not addresses. The kernel reads `poll32_events` with
// its two 16-bit halves swapped on big-endian machines.
unsafe impl crate::op::SqeField<u32> for PollEvents {
    #[inline(always)]
    fn into_field(self) -> u32 {
        if cfg!(target_endian = "big") {
            self.bits().rotate_left(16)
        } else {
            self.bits()
        }
    }
}

// SAFETY: the futex ops read the word size from these bits; the size is
// always 32 bits here (the futex is an `AtomicU32`), so the kernel reads
// four bytes at the word's address and nothing after it (`FUTEX2_NUMA`,
// which reads a node id after the word, is not a named bit).
unsafe impl crate::op::SqeField<i32> for FutexFlags {
    #[inline(always)]
    fn into_field(self) -> i32 {
        (self.bits() | sys::FUTEX2_SIZE_U32) as i32
    }
}
