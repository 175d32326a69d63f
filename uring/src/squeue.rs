//! The submission queue: SQEs are written in place into slots reserved from
//! the shared ring, and published to the kernel with one release store of
//! the tail.

use crate::sys::{self, io_uring_sqe};
use crate::types::Timespec;
use std::sync::atomic::{AtomicU32, Ordering, fence};

/// The user-space side of the SQ ring.
pub(crate) struct SubmissionQueue {
    /// The kernel's head: SQEs before it have been consumed.
    khead: *const AtomicU32,
    /// The tail the kernel reads.
    ktail: *const AtomicU32,
    /// `IORING_SQ_*` flags the kernel sets.
    kflags: *const AtomicU32,
    /// SQEs the kernel dropped as invalid.
    kdropped: *const AtomicU32,
    pub(crate) sqes: *mut io_uring_sqe,
    /// One ring-owned timespec per SQ slot (see `SqeSlot::ring_owned`).
    pub(crate) stable: *mut Timespec,
    pub(crate) mask: u32,
    pub(crate) entries: u32,
    /// The next free slot; SQEs before it and after the published tail are
    /// written but not yet visible to the kernel.
    pub(crate) tail: u32,
    /// The kernel's head as last read.
    head: u32,
}

impl SubmissionQueue {
    /// # Safety
    ///
    /// `ring` must be the live SQ ring mapping described by `off`, `sqes`
    /// the SQE array of `off.ring_entries` entries, `stable` an array of as
    /// many timespecs; all must outlive the queue.
    pub(crate) unsafe fn new(
        ring: *mut u8,
        off: &sys::io_sqring_offsets,
        sqes: *mut io_uring_sqe,
        stable: *mut Timespec,
        no_sqarray: bool,
    ) -> SubmissionQueue {
        // SAFETY: the offsets come from the kernel and lie inside the mapping.
        unsafe {
            let at = |o: u32| ring.add(o as usize);
            let mask = *(at(off.ring_mask) as *const u32);
            let entries = *(at(off.ring_entries) as *const u32);
            let khead = at(off.head) as *const AtomicU32;
            if !no_sqarray {
                // The index array maps ring positions to SQE slots; making it
                // the identity once lets every push write its SQE in place.
                let array = at(off.array) as *mut u32;
                for i in 0..entries {
                    array.add(i as usize).write(i);
                }
            }
            let head = (*khead).load(Ordering::Acquire);
            SubmissionQueue {
                khead,
                ktail: at(off.tail) as *const AtomicU32,
                kflags: at(off.flags) as *const AtomicU32,
                kdropped: at(off.dropped) as *const AtomicU32,
                sqes,
                stable,
                mask,
                entries,
                tail: head,
                head,
            }
        }
    }

    #[inline(always)]
    fn khead(&self) -> &AtomicU32 {
        // SAFETY: points into the SQ ring mapping, alive as long as `self`.
        unsafe { &*self.khead }
    }

    /// Makes `n` slots available from `tail`, re-reading the kernel's head
    /// only when the cached one says there is no room.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, n: u32) -> bool {
        if self.entries.wrapping_sub(self.tail.wrapping_sub(self.head)) >= n {
            return true;
        }
        self.reserve_slow(n)
    }

    #[cold]
    fn reserve_slow(&mut self, n: u32) -> bool {
        // Acquire: the kernel's reads of the slots before its head happen
        // before we overwrite them.
        self.head = self.khead().load(Ordering::Acquire);
        self.entries.wrapping_sub(self.tail.wrapping_sub(self.head)) >= n
    }

    /// Free slots.
    pub(crate) fn space_left(&mut self) -> u32 {
        self.head = self.khead().load(Ordering::Acquire);
        self.entries.wrapping_sub(self.tail.wrapping_sub(self.head))
    }

    /// Publishes every written SQE to the kernel.
    #[inline(always)]
    pub(crate) fn publish(&self) {
        // SAFETY: points into the SQ ring mapping. Release: the SQE writes
        // before this store are visible to the kernel once it sees the tail.
        unsafe { (*self.ktail).store(self.tail, Ordering::Release) }
    }

    /// Written SQEs the kernel has not consumed yet.
    #[inline(always)]
    pub(crate) fn unconsumed(&mut self) -> u32 {
        self.head = self.khead().load(Ordering::Acquire);
        self.tail.wrapping_sub(self.head)
    }

    /// Whether the SQ thread sleeps and needs `IORING_ENTER_SQ_WAKEUP`.
    #[inline(always)]
    pub(crate) fn need_wakeup(&self) -> bool {
        // The kernel sets NEED_WAKEUP and then re-checks the tail; the full
        // fence orders our tail store before this load, so one side always
        // sees the other.
        fence(Ordering::SeqCst);
        self.flags() & sys::IORING_SQ_NEED_WAKEUP != 0
    }

    /// Whether completions wait in the kernel (CQ overflow, or task work
    /// flagged with `IORING_SETUP_TASKRUN_FLAG`) for an enter to flush them.
    #[inline(always)]
    pub(crate) fn cq_needs_flush(&self) -> bool {
        self.flags() & (sys::IORING_SQ_CQ_OVERFLOW | sys::IORING_SQ_TASKRUN) != 0
    }

    #[inline(always)]
    fn flags(&self) -> u32 {
        // SAFETY: points into the SQ ring mapping.
        unsafe { (*self.kflags).load(Ordering::Relaxed) }
    }

    /// SQEs the kernel dropped as invalid since the ring was created.
    pub(crate) fn dropped(&self) -> u32 {
        // SAFETY: points into the SQ ring mapping.
        unsafe { (*self.kdropped).load(Ordering::Relaxed) }
    }
}
