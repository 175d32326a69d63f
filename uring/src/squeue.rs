//! The submission queue: SQEs are written in place into slots reserved from
//! the shared ring, and published to the kernel with one release store of
//! the tail.

use crate::error::Full;
use crate::op::{SqWriter, Submission};
use crate::sys::{self, io_uring_sqe};
use crate::types::Timespec;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering, fence};

/// The user-space side of the SQ ring.
pub(crate) struct Sq {
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
    pub(crate) head: u32,
}

impl Sq {
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
    ) -> Sq {
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
            Sq {
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

    /// Free slots, after re-reading the kernel's head.
    pub(crate) fn space_left(&mut self) -> u32 {
        // Acquire: the kernel's reads of the slots before its head happen
        // before we overwrite them.
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

/// A batch of pushes into the submission queue.
///
/// [`Ring::submission`](crate::Ring::submission) hands one out; it keeps a
/// pointer to the next free SQE and to the end of the free run in registers
/// while ops are pushed, so a loop of pushes costs one comparison and the
/// SQE writes. The SQEs become visible to the kernel at the next submit.
pub struct SubmissionQueue<'a> {
    sq: &'a mut Sq,
    cursor: Cursor,
}

/// Where the next SQE of a batch goes.
#[derive(Clone, Copy)]
struct Cursor {
    /// The next free SQE.
    next: *mut io_uring_sqe,
    /// The end of the free slots that follow `next` without wrapping.
    run_end: *mut io_uring_sqe,
    /// The tail value of `sqes[0]` in the current lap of the ring.
    lap: u32,
}

impl Cursor {
    /// The cursor at `sq.tail`, with the free run computed from the cached
    /// head.
    #[inline(always)]
    fn at_tail(sq: &Sq) -> Cursor {
        let index = sq.tail & sq.mask;
        let free = sq.head.wrapping_add(sq.entries).wrapping_sub(sq.tail);
        let run = free.min(sq.entries - index);
        // SAFETY: `index + run <= entries`: both stay inside the SQE array.
        unsafe {
            let next = sq.sqes.add(index as usize);
            Cursor {
                next,
                run_end: next.add(run as usize),
                lap: sq.tail.wrapping_sub(index),
            }
        }
    }

    /// The tail value of `next`.
    #[inline(always)]
    fn tail(&self, sq: &Sq) -> u32 {
        // SAFETY: `next` is in the SQE array or one past its end.
        let index = unsafe { self.next.offset_from(sq.sqes) } as u32;
        self.lap.wrapping_add(index)
    }

    /// Free slots in the run.
    #[inline(always)]
    fn run(&self) -> usize {
        // SAFETY: both point into the SQE array, `next <= run_end`.
        unsafe { self.run_end.offset_from(self.next) as usize }
    }
}

/// How a push that did not fit the free run goes on.
enum Slow {
    /// After re-reading the head, the push fits the (new) run.
    Run(Cursor),
    /// The push fits only by wrapping to the start of the array.
    Wrap,
    Full,
}

impl<'a> SubmissionQueue<'a> {
    #[inline(always)]
    pub(crate) fn new(sq: &'a mut Sq) -> SubmissionQueue<'a> {
        SubmissionQueue {
            cursor: Cursor::at_tail(sq),
            sq,
        }
    }

    /// Pushes an op or a chain, as [`Ring::push`](crate::Ring::push) does.
    #[inline(always)]
    pub fn push<S: Submission + 'static>(&mut self, submission: S) -> Result<(), Full<S>> {
        // SAFETY: a 'static submission borrows nothing that can be freed or
        // reused while the kernel uses it.
        unsafe { self.push_unchecked(submission) }
    }

    /// Pushes an op or a chain whose borrows the caller keeps alive, as
    /// [`Ring::push_unchecked`](crate::Ring::push_unchecked) does.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_unchecked`](crate::Ring::push_unchecked).
    #[inline(always)]
    pub unsafe fn push_unchecked<S: Submission>(&mut self, submission: S) -> Result<(), Full<S>> {
        if self.cursor.run() < S::SQES as usize {
            // Kept out of line, and given the cursor by value, so that the
            // batch stays in registers across pushes.
            match slow(self.sq, self.cursor, S::SQES) {
                Slow::Run(cursor) => self.cursor = cursor,
                Slow::Wrap => {
                    self.cursor = push_wrapping(self.sq, self.cursor, submission);
                    return Ok(());
                }
                Slow::Full => return Err(Full(submission)),
            }
        }
        let sq = &*self.sq;
        // SAFETY: the run holds at least SQES free slots from `next`, none
        // past the end of the array; they are unpublished until the tail is
        // stored at the next submit.
        let mut writer =
            unsafe { SqWriter::<false>::new(self.cursor.next, sq.sqes, sq.entries, sq.stable) };
        submission.prepare_all(&mut writer, 0);
        self.cursor.next = writer.position();
        Ok(())
    }

    /// Free slots.
    pub fn space_left(&mut self) -> u32 {
        self.sq.tail = self.cursor.tail(self.sq);
        let space = self.sq.space_left();
        self.cursor = Cursor::at_tail(self.sq);
        space
    }

    /// SQEs pushed through this batch or before it, not yet consumed by the
    /// kernel.
    pub fn len(&mut self) -> u32 {
        self.sq.tail = self.cursor.tail(self.sq);
        self.sq.unconsumed()
    }

    /// Whether no pushed SQE waits for the kernel.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
}

/// A push of `n` SQEs found fewer free slots in its run: re-read the kernel's
/// head and see how it fits.
#[cold]
#[inline(never)]
fn slow(sq: &mut Sq, cursor: Cursor, n: u32) -> Slow {
    sq.tail = cursor.tail(sq);
    if sq.space_left() < n {
        return Slow::Full;
    }
    let cursor = Cursor::at_tail(sq);
    if cursor.run() >= n as usize {
        Slow::Run(cursor)
    } else {
        Slow::Wrap
    }
}

/// Writes a submission whose SQEs run past the end of the array; returns
/// the cursor after it.
#[cold]
#[inline(never)]
fn push_wrapping<S: Submission>(sq: &mut Sq, cursor: Cursor, submission: S) -> Cursor {
    // SAFETY: `slow` checked that SQES slots are free from `next` on, across
    // the end of the array.
    let mut writer = unsafe { SqWriter::<true>::new(cursor.next, sq.sqes, sq.entries, sq.stable) };
    submission.prepare_all(&mut writer, 0);
    sq.tail = cursor.tail(sq).wrapping_add(S::SQES);
    Cursor::at_tail(sq)
}

impl Drop for SubmissionQueue<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.sq.tail = self.cursor.tail(self.sq);
    }
}

impl fmt::Debug for SubmissionQueue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmissionQueue")
            .field("tail", &self.cursor.tail(self.sq))
            .finish_non_exhaustive()
    }
}
