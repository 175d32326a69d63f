//! The submission queue: SQEs are written in place into slots reserved from
//! the shared ring, and published to the kernel with one release store of
//! the tail.
//!
//! User space keeps a cursor: a pointer to the next free SQE, the end of the
//! run of free SQEs that follows it without wrapping, and the tail value of
//! the array's first slot in the current lap. A push checks one pointer
//! against the run's end and writes the SQE in place; the tail is derived
//! from the cursor when it is published.
//!
//! While a scope holds the ring, the queue has a limit too: a tail past
//! which no push goes until the scope has room for more ops. Runs end at
//! it, so the one comparison of a push checks the scope's room as well.

use crate::chain::Linked;
use crate::entries::{Sqe64, SqeSize};
use crate::error::{PushError, PushErrorKind};
use crate::op::{SqWriter, Submission, Unborrowed};
use crate::sys::{self, io_uring_sqe};
use crate::types::Timespec;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering, fence};

/// The user-space side of the SQ ring.
pub(crate) struct Sq<S: SqeSize = Sqe64> {
    /// The kernel's head: SQEs before it have been consumed.
    khead: *const AtomicU32,
    /// The tail the kernel reads.
    ktail: *const AtomicU32,
    /// `IORING_SQ_*` flags the kernel sets.
    kflags: *const AtomicU32,
    /// SQEs the kernel dropped as invalid.
    kdropped: *const AtomicU32,
    pub(crate) sqes: *mut S::Slot,
    /// One ring-owned timespec per SQ slot (see `SqeSlot::ring_owned`).
    pub(crate) stable: *mut Timespec,
    pub(crate) mask: u32,
    pub(crate) entries: u32,
    /// Where the next SQE goes; SQEs before it and after the published tail
    /// are written but not yet visible to the kernel.
    cursor: Cursor<S>,
    /// The kernel's head as last read.
    pub(crate) head: u32,
    /// The ring's id, which the fixed files of a push must carry.
    pub(crate) ring: u32,
    /// Set for good when an SQE flagged `IOSQE_IO_DRAIN` is pushed: the
    /// kernel keeps its drain on after the drained op completes, for as
    /// long as user space cannot tell, and holds a zero-copy send behind it
    /// forever; scopes and reactors then take no zero-copy send (see the
    /// scope's `after_drain`).
    pub(crate) drain: bool,
    /// Set for good when the ring's SQ thread is, or may come to be, shared
    /// with another ring (SQPOLL rings joined by `IORING_SETUP_ATTACH_WQ`):
    /// Linux 6.18's thread then takes at most 8 SQEs from each ring per
    /// pass and queues a chain its pass cuts as two independent ones, so
    /// the ring takes no chain.
    pub(crate) shared_sq_thread: std::cell::Cell<bool>,
    /// The bits of the kernel's SQ flags word the ring's setup lets mean
    /// something (see [`believed_sq_flags`]).
    pub(crate) flags_believed: u32,
}

/// The SQ flags a ring of `setup` flags believes: `IORING_SQ_CQ_OVERFLOW`,
/// `IORING_SQ_NEED_WAKEUP` with an SQ thread, `IORING_SQ_TASKRUN` with
/// `IORING_SETUP_TASKRUN_FLAG`. Linux 6.18 sets the last two for good in
/// every ring it resizes; believed on other rings, they would send every
/// wait and submit into the kernel.
pub(crate) fn believed_sq_flags(setup: u32) -> u32 {
    let mut believed = sys::IORING_SQ_CQ_OVERFLOW;
    if setup & sys::IORING_SETUP_SQPOLL != 0 {
        believed |= sys::IORING_SQ_NEED_WAKEUP;
    }
    if setup & sys::IORING_SETUP_TASKRUN_FLAG != 0 {
        believed |= sys::IORING_SQ_TASKRUN;
    }
    believed
}

/// Where the next SQE goes.
struct Cursor<S: SqeSize> {
    /// The next free SQE.
    next: *mut S::Slot,
    /// The end of the free SQEs that follow `next` without wrapping, as of
    /// the last read of the kernel's head.
    run_end: *mut S::Slot,
    /// The tail value of `sqes[0]` in the current lap of the ring, in the
    /// low half. (A whole word: a cursor then copies as three, which keeps
    /// a batch's loop from loading it in four pieces.)
    lap: u64,
}

impl<S: SqeSize> Clone for Cursor<S> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: SqeSize> Copy for Cursor<S> {}

impl<S: SqeSize> Cursor<S> {
    /// Free slots in the run.
    ///
    /// (mutants: `0` is equivalent: every push then goes through `refresh`
    /// and the wrapping writer, which check the same room and write the
    /// same SQEs.)
    #[inline(always)]
    fn run(&self) -> usize {
        // SAFETY: both point into the SQE array, `next <= run_end`.
        unsafe { self.run_end.offset_from(self.next) as usize }
    }

    /// The tail value of `next`, in the SQE array `sqes` it points into.
    #[inline(always)]
    fn tail(&self, sqes: *mut S::Slot) -> u32 {
        // SAFETY: `next` is in the SQE array or one past its end.
        let index = unsafe { self.next.offset_from(sqes) } as u32;
        (self.lap as u32).wrapping_add(index)
    }
}

impl<S: SqeSize> Sq<S> {
    /// # Safety
    ///
    /// `ring` must be the live SQ ring mapping described by `off`, `sqes`
    /// the SQE array of `off.ring_entries` entries, `stable` an array of as
    /// many timespecs; all must outlive the queue. `id` is the ring's id.
    pub(crate) unsafe fn new(
        ring: *mut u8,
        off: &sys::io_sqring_offsets,
        sqes: *mut S::Slot,
        stable: *mut Timespec,
        no_sqarray: bool,
        id: u32,
    ) -> Sq<S> {
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
            let mut sq = Sq {
                khead,
                ktail: at(off.tail) as *const AtomicU32,
                kflags: at(off.flags) as *const AtomicU32,
                kdropped: at(off.dropped) as *const AtomicU32,
                sqes,
                stable,
                mask,
                entries,
                cursor: Cursor {
                    next: sqes,
                    run_end: sqes,
                    lap: 0,
                },
                head,
                ring: id,
                drain: false,
                shared_sq_thread: std::cell::Cell::new(false),
                // Every bit until the ring sets what its setup lets them mean.
                flags_believed: !0,
            };
            sq.set_tail(head, None);
            sq
        }
    }

    #[inline(always)]
    fn khead(&self) -> &AtomicU32 {
        // SAFETY: points into the SQ ring mapping, alive as long as `self`.
        unsafe { &*self.khead }
    }

    /// The next free slot's tail value: SQEs before it have been pushed.
    #[inline(always)]
    pub(crate) fn tail(&self) -> u32 {
        self.cursor.tail(self.sqes)
    }

    /// Moves the cursor to `tail`, with the free run computed from the
    /// cached head, and ended at `limit` if one is given (see
    /// [`cap`](Sq::cap)).
    #[inline(always)]
    fn set_tail(&mut self, tail: u32, limit: Option<u32>) {
        let index = tail & self.mask;
        let free = within(
            limit,
            tail,
            self.head.wrapping_add(self.entries).wrapping_sub(tail),
        );
        let run = free.min(self.entries - index);
        // SAFETY: `index + run <= entries`: both stay inside the SQE array.
        unsafe {
            let next = self.sqes.add(index as usize);
            self.cursor = Cursor {
                next,
                run_end: next.add(run as usize),
                lap: u64::from(tail.wrapping_sub(index)),
            };
        }
    }

    /// Re-reads the kernel's head.
    #[inline(always)]
    fn refresh_head(&mut self) {
        // Acquire: the kernel's reads of the slots before its head happen
        // before we overwrite them.
        self.head = self.khead().load(Ordering::Acquire);
    }

    /// Free slots, after re-reading the kernel's head.
    pub(crate) fn space_left(&mut self) -> u32 {
        self.refresh_head();
        self.entries
            .wrapping_sub(self.tail().wrapping_sub(self.head))
    }

    /// The slots a push may take, after re-reading the kernel's head: the
    /// free ones, as many as `limit` leaves.
    #[inline(always)]
    fn room(&mut self, limit: Option<u32>) -> u32 {
        let free = self.space_left();
        within(limit, self.tail(), free)
    }

    /// Ends the cursor's run at `limit`, a tail at which pushes stop, or
    /// (`None`) where the free slots end. A scope caps the run so that the
    /// one comparison of a push checks the scope's room too: its pushes
    /// refresh the run with a limit moved on (see [`PushGate::admit`]), and
    /// every other move of the cursor while it holds the ring is followed
    /// by a cap.
    pub(crate) fn cap(&mut self, limit: Option<u32>) {
        let tail = self.tail();
        self.set_tail(tail, limit);
    }

    /// Publishes every written SQE to the kernel.
    #[inline(always)]
    pub(crate) fn publish(&self) {
        // SAFETY: points into the SQ ring mapping. Release: the SQE writes
        // before this store are visible to the kernel once it sees the tail.
        unsafe { (*self.ktail).store(self.tail(), Ordering::Release) }
    }

    /// Takes back the written SQEs from ring position `to` on, so that the
    /// kernel never sees them, and publishes the shorter queue.
    ///
    /// # Safety
    ///
    /// `to` must be between the kernel's head (as just read) and the tail,
    /// and nothing may consume SQEs meanwhile: no SQ thread, and no enter
    /// on another thread.
    pub(crate) unsafe fn retract(&mut self, to: u32) {
        self.set_tail(to, None);
        self.publish();
    }

    /// Publishes every written SQE, and returns how many there are after
    /// the cached head: those the kernel has not consumed, unless it
    /// consumed some since the head was last read (then more than that).
    /// Only the enters of this ring consume SQEs on a ring without an SQ
    /// thread, and the kernel takes no more than are there, so this is
    /// what such an enter is asked to submit, without a read of the
    /// kernel's head.
    #[inline(always)]
    pub(crate) fn publish_pending(&mut self) -> u32 {
        let tail = self.tail();
        // SAFETY: as in `publish`.
        unsafe { (*self.ktail).store(tail, Ordering::Release) }
        tail.wrapping_sub(self.head)
    }

    /// Notes that an enter without an SQ thread consumed `n` SQEs from the
    /// cached head on, which was the kernel's (just read, or moved here by
    /// the last enter): it is again, without a read.
    #[inline(always)]
    pub(crate) fn consumed(&mut self, n: u32) {
        self.head = self.head.wrapping_add(n);
    }

    /// Written SQEs the kernel has not consumed yet.
    #[inline(always)]
    pub(crate) fn unconsumed(&mut self) -> u32 {
        self.refresh_head();
        self.tail().wrapping_sub(self.head)
    }

    /// Written SQEs the kernel has not taken yet, from a shared reference:
    /// the kernel's head is read, not cached.
    pub(crate) fn untaken(&self) -> u32 {
        self.tail()
            .wrapping_sub(self.khead().load(Ordering::Acquire))
    }

    /// Written SQEs not yet published: those the next publish hands over.
    pub(crate) fn unpublished(&self) -> u32 {
        // SAFETY: points into the SQ ring mapping; only user space writes
        // the tail.
        let published = unsafe { (*self.ktail).load(Ordering::Relaxed) };
        self.tail().wrapping_sub(published)
    }

    /// Published SQEs (those before the tail the kernel sees) that the
    /// kernel has not consumed yet.
    pub(crate) fn published_unconsumed(&mut self) -> u32 {
        self.refresh_head();
        // SAFETY: points into the SQ ring mapping; only user space writes
        // the tail.
        let published = unsafe { (*self.ktail).load(Ordering::Relaxed) };
        published.wrapping_sub(self.head)
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
        // (mutants: `^` for `|` is equivalent: the bits are distinct.)
        self.flags() & (sys::IORING_SQ_CQ_OVERFLOW | sys::IORING_SQ_TASKRUN) != 0
    }

    /// The kernel's SQ flags, but those the ring's setup gives no meaning.
    #[inline(always)]
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: points into the SQ ring mapping.
        unsafe { (*self.kflags).load(Ordering::Relaxed) & self.flags_believed }
    }

    /// SQEs the kernel dropped as invalid since the ring was created.
    pub(crate) fn dropped(&self) -> u32 {
        // SAFETY: points into the SQ ring mapping.
        unsafe { (*self.kdropped).load(Ordering::Relaxed) }
    }

    /// Runs `write` with a writer over the `n` slots from the tail on,
    /// wrapping at the end of the array; then the tail moves past them,
    /// the run ended at `limit` if one is given (see [`cap`](Sq::cap)). If
    /// `write` panics, the tail stays where it was, so that no slot it left
    /// unwritten (holding an old SQE) is ever published.
    ///
    /// # Safety
    ///
    /// `n` slots must be free (see [`space_left`](Sq::space_left)), and
    /// `write` must fill all of them.
    #[inline]
    pub(crate) unsafe fn write_wrapping(
        &mut self,
        limit: Option<u32>,
        n: u32,
        write: impl FnOnce(&mut SqWriter<'_, true, S>),
    ) {
        let tail = self.tail();
        // SAFETY: the masked index is inside the array (a cursor at its very
        // end continues at its start).
        let next = unsafe { self.sqes.add((tail & self.mask) as usize) };
        // SAFETY: the caller guarantees `n` free slots from the tail on; the
        // writer wraps at the end of the array.
        let mut writer =
            unsafe { SqWriter::<true, S>::new(next, self.sqes, self.entries, self.stable) };
        write(&mut writer);
        self.set_tail(tail.wrapping_add(n), limit);
    }
}

/// A free SQ slot handed out for writing by hand, zeroed: go-uring's
/// `NextSQE`, liburing's `io_uring_get_sqe`.
///
/// [`Ring::next_sqe`](crate::Ring::next_sqe) hands one out. It dereferences
/// to the slot's SQE ([`io_uring_sqe`], or `io_uring_sqe128` on a ring of
/// [`Sqe128`](crate::Sqe128) SQEs), written in place in the ring's SQE
/// array. Nothing written there reaches the kernel until
/// [`commit`](VacantSqe::commit) adds the slot to the queue; a slot
/// dropped uncommitted (or forgotten) stays free, and the next push writes
/// over it.
pub struct VacantSqe<'a, S: SqeSize = Sqe64> {
    sq: &'a mut Sq<S>,
    slot: *mut S::Slot,
}

impl<'a, S: SqeSize> VacantSqe<'a, S> {
    /// The free slot at the tail, zeroed; `None` when the queue is full.
    pub(crate) fn new(sq: &'a mut Sq<S>) -> Option<VacantSqe<'a, S>> {
        if sq.space_left() == 0 {
            return None;
        }
        // SAFETY: the masked tail indexes the SQE array; the slot is free
        // (the kernel consumed it, checked above) and unpublished, so only
        // user space touches it until the tail moves past it.
        let slot = unsafe { sq.sqes.add((sq.tail() & sq.mask) as usize) };
        // SAFETY: as above; all-zero bytes are a valid SQE of either size.
        unsafe { std::ptr::write_bytes(slot, 0, 1) };
        Some(VacantSqe { sq, slot })
    }

    /// Adds the SQE as written to the queue, after those pushed before it:
    /// the next submit hands it to the kernel.
    ///
    /// # Safety
    ///
    /// The SQE must be valid for the running kernel, and everything it
    /// names must stay valid as for
    /// [`Ring::push_unchecked`](crate::Ring::push_unchecked): memory it
    /// points to, descriptors, registered files (which must be this
    /// ring's), until the op's last completion has been read. Its flags are
    /// taken as written: a link flag links it to whatever is pushed next.
    pub unsafe fn commit(self) {
        // SAFETY: the slot is in the SQE array, written by hand (zeroed at
        // hand-out); only this value reaches it until the tail moves.
        note_drain(self.sq, unsafe { &*S::sqe(self.slot) });
        let tail = self.sq.tail();
        self.sq.set_tail(tail.wrapping_add(1), None);
    }
}

impl<S: SqeSize> std::ops::Deref for VacantSqe<'_, S> {
    type Target = S::Slot;

    fn deref(&self) -> &S::Slot {
        // SAFETY: the slot is in the SQE array, initialized (zeroed at
        // hand-out), and only this value reaches it until it is committed.
        unsafe { &*self.slot }
    }
}

impl<S: SqeSize> std::ops::DerefMut for VacantSqe<'_, S> {
    fn deref_mut(&mut self) -> &mut S::Slot {
        // SAFETY: as for `deref`; the kernel reads the slot only once the
        // tail is published past it.
        unsafe { &mut *self.slot }
    }
}

impl<S: SqeSize> fmt::Debug for VacantSqe<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VacantSqe")
            .field("tail", &self.sq.tail())
            .finish_non_exhaustive()
    }
}

/// A batch of pushes into the submission queue.
///
/// [`Ring::submission`](crate::Ring::submission) hands one out; it keeps a
/// pointer to the next free SQE and to the end of the free run in registers
/// while ops are pushed, so a loop of pushes costs one comparison and the
/// SQE writes. The SQEs become the ring's when the batch is dropped, and
/// visible to the kernel at the next submit. A batch given to
/// `mem::forget` keeps the pushes made since it last handed its cursor to
/// the ring, as a forgotten `BufWriter` keeps its bytes: those are never
/// submitted, and the next pushes write over their slots. It hands its
/// cursor over at a [`push_linked`](SubmissionQueue::push_linked), a
/// [`space_left`](SubmissionQueue::space_left), and a push that starts the
/// SQ array's next lap: the pushes before those are the ring's, and the
/// next submit hands them to the kernel. (Ring pushes name no borrowed
/// memory, and `push_unchecked`'s caller waits for the completions of what
/// it submitted; a scope's batch, whose ops borrow, records each push at
/// once instead.)
pub struct SubmissionQueue<'a, S: SqeSize = Sqe64> {
    sq: &'a mut Sq<S>,
    cursor: Cursor<S>,
}

impl<'a, S: SqeSize> SubmissionQueue<'a, S> {
    #[inline(always)]
    pub(crate) fn new(sq: &'a mut Sq<S>) -> SubmissionQueue<'a, S> {
        SubmissionQueue {
            cursor: sq.cursor,
            sq,
        }
    }

    /// Pushes an op or a chain, as [`Ring::push`](crate::Ring::push) does.
    #[inline(always)]
    pub fn push<T: Submission<S> + Unborrowed>(
        &mut self,
        submission: T,
    ) -> Result<(), PushError<T>> {
        // SAFETY: an unborrowed submission names no memory, descriptor or
        // registered file that could be freed, closed or replaced while the
        // kernel uses it (and a registered file of another ring is refused).
        unsafe { self.push_gated::<true, T, _>(submission, Ungated(|_: &mut io_uring_sqe| {})) }
    }

    /// Pushes an op or a chain whose borrows the caller keeps alive, as
    /// [`Ring::push_unchecked`](crate::Ring::push_unchecked) does.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_unchecked`](crate::Ring::push_unchecked).
    #[inline(always)]
    pub unsafe fn push_unchecked<T: Submission<S>>(
        &mut self,
        submission: T,
    ) -> Result<(), PushError<T>> {
        debug_assert!(
            submission.fits_ring(self.sq.ring),
            "push_unchecked: a registered file of another ring"
        );
        // SAFETY: forwarded from the caller, who vouches too that every
        // registered file the submission names is this ring's.
        unsafe { self.push_gated::<false, T, _>(submission, Ungated(|_: &mut io_uring_sqe| {})) }
    }

    /// [`push_unchecked`](Self::push_unchecked), then `each` on every SQE the
    /// push wrote, in order, before any of them is published; a registered
    /// file of another ring is refused.
    ///
    /// # Safety
    ///
    /// As for [`push_unchecked`](Self::push_unchecked), but for the ring of
    /// its registered files; `each` must leave every SQE valid.
    #[inline(always)]
    pub(crate) unsafe fn push_unchecked_then<T: Submission<S>>(
        &mut self,
        submission: T,
        each: impl FnMut(&mut io_uring_sqe),
    ) -> Result<(), PushError<T>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.push_gated::<true, T, _>(submission, Ungated(each)) }
    }

    /// The push under all the others, through `gate`: asked on the cold
    /// path of a run too short for the push (so that the fast path carries
    /// no extra branch that would hold the submission in memory) whether
    /// the push may go on and where the limit is, then given each SQE
    /// written; with `CHECK_RING`, refused when it names a registered file
    /// of another ring.
    ///
    /// # Safety
    ///
    /// As for [`push_unchecked_then`](Self::push_unchecked_then), with
    /// `gate.each` for `each`; without `CHECK_RING`, every registered file
    /// the submission names must be this ring's.
    #[inline(always)]
    pub(crate) unsafe fn push_gated<const CHECK_RING: bool, T: Submission<S>, G: PushGate>(
        &mut self,
        submission: T,
        mut gate: G,
    ) -> Result<(), PushError<T>> {
        if CHECK_RING && !submission.fits_ring(self.sq.ring) {
            return Err(PushError::foreign_file(submission));
        }
        if T::SQES > 1 && self.sq.shared_sq_thread.get() {
            return Err(PushError::new(submission, PushErrorKind::SharedSqThread));
        }
        if self.cursor.run() < T::SQES as usize {
            let limit = match gate.admit(self.tail(), T::SQES) {
                Ok(limit) => limit,
                Err(kind) => return Err(PushError::new(submission, kind)),
            };
            // Inlined: a call here makes the loop around the push spill
            // its live values to the stack at every refresh (once per
            // round when the ring is as deep as the queue); the submission
            // itself is handed over only where it goes out of line.
            match refresh(self.sq, self.cursor, T::SQES, limit) {
                Refreshed::Run(cursor) => self.cursor = cursor,
                Refreshed::Wrap => {
                    // Written here rather than out of line: handing the
                    // submission to a function would make every push spill
                    // it to the stack first.
                    let start = self.sq.tail();
                    // SAFETY: `refresh` found SQES slots free from the tail
                    // on, across the end of the array; `prepare_all` writes
                    // all of them.
                    unsafe {
                        self.sq.write_wrapping(limit, T::SQES, |writer| {
                            submission.prepare_all(writer, 0)
                        })
                    };
                    // SAFETY: the SQES slots from `start` on were just
                    // written, unpublished.
                    unsafe { gate_wrapped(self.sq, &mut gate, start, T::SQES) };
                    self.cursor = self.sq.cursor;
                    return Ok(());
                }
                Refreshed::Full => return Err(PushError::full(submission)),
            }
        }
        let sq = &*self.sq;
        let first = self.cursor.next;
        // SAFETY: the run holds at least SQES free slots from `next`, none
        // past the end of the array; they are unpublished until the tail is
        // stored at the next submit.
        let mut writer =
            unsafe { SqWriter::<false, S>::new(first, sq.sqes, sq.entries, sq.stable) };
        submission.prepare_all(&mut writer, 0);
        self.cursor.next = writer.position();
        for i in 0..T::SQES as usize {
            // SAFETY: the SQES slots from `first` were just written, in the
            // array, unpublished.
            gate_one(self.sq, &mut gate, unsafe { &mut *S::sqe(first.add(i)) });
        }
        gate_end(self.sq, &gate);
        Ok(())
    }

    /// Pushes a chain of run-time length, as
    /// [`Ring::push_linked`](crate::Ring::push_linked) does.
    pub fn push_linked<T: Submission<S> + Unborrowed>(
        &mut self,
        chain: Linked<T>,
    ) -> Result<(), PushError<Linked<T>>> {
        // SAFETY: as for `push`: its elements borrow nothing.
        unsafe { self.push_linked_gated::<true, T, _>(chain, Ungated(|_: &mut io_uring_sqe| {})) }
    }

    /// Pushes a chain of run-time length whose borrows the caller keeps
    /// alive, as [`Ring::push_linked_unchecked`](crate::Ring::push_linked_unchecked)
    /// does.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_unchecked`](crate::Ring::push_unchecked), for
    /// every element.
    pub unsafe fn push_linked_unchecked<T: Submission<S>>(
        &mut self,
        chain: Linked<T>,
    ) -> Result<(), PushError<Linked<T>>> {
        debug_assert!(
            chain.ops.iter().all(|op| op.fits_ring(self.sq.ring)),
            "push_linked_unchecked: a registered file of another ring"
        );
        // SAFETY: forwarded from the caller, who vouches for the ring of
        // every registered file too.
        unsafe { self.push_linked_gated::<false, T, _>(chain, Ungated(|_: &mut io_uring_sqe| {})) }
    }

    /// [`push_gated`](Self::push_gated) for a chain of run-time length:
    /// admitted by `gate`, refused when the queue lacks room for all its
    /// SQEs; then `gate.each` on every SQE written, in order, before any is
    /// published.
    ///
    /// # Safety
    ///
    /// As for [`push_gated`](Self::push_gated), for every element.
    pub(crate) unsafe fn push_linked_gated<
        const CHECK_RING: bool,
        T: Submission<S>,
        G: PushGate,
    >(
        &mut self,
        chain: Linked<T>,
        mut gate: G,
    ) -> Result<(), PushError<Linked<T>>> {
        if CHECK_RING && !chain.ops.iter().all(|op| op.fits_ring(self.sq.ring)) {
            return Err(PushError::foreign_file(chain));
        }
        if self.sq.shared_sq_thread.get() && chain.sqes().is_none_or(|n| n > 1) {
            return Err(PushError::new(chain, PushErrorKind::SharedSqThread));
        }
        let limit = match gate.admit(self.tail(), chain.sqes().unwrap_or(u32::MAX)) {
            Ok(limit) => limit,
            Err(kind) => return Err(PushError::new(chain, kind)),
        };
        let Some(n) = chain.sqes() else {
            return Err(PushError::full(chain));
        };
        if n == 0 {
            return Ok(());
        }
        self.sync();
        if self.sq.room(limit) < n {
            return Err(PushError::full(chain));
        }
        let start = self.sq.tail();
        // SAFETY: `n` slots are free from the tail on (checked above);
        // `prepare_all` writes `SQES` slots for each of the chain's
        // elements, `n` in all.
        unsafe {
            self.sq
                .write_wrapping(limit, n, |writer| chain.prepare_all(writer))
        };
        // SAFETY: the `n` slots from `start` on were just written,
        // unpublished.
        unsafe { gate_wrapped(self.sq, &mut gate, start, n) };
        self.cursor = self.sq.cursor;
        Ok(())
    }

    /// Whether an SQE flagged `IOSQE_IO_DRAIN` was ever pushed on the ring
    /// (see [`Sq::drain`]).
    #[inline(always)]
    pub(crate) fn drain(&self) -> bool {
        self.sq.drain
    }

    /// The tail of the next push of this batch.
    #[inline(always)]
    pub(crate) fn tail(&self) -> u32 {
        self.cursor.tail(self.sq.sqes)
    }

    /// Stores the batch's cursor in the queue, as dropping the batch would.
    /// (Only its `next` can differ: a push that re-reads the head stores the
    /// new run in the queue too.)
    #[inline(always)]
    pub(crate) fn sync(&mut self) {
        self.sq.cursor.next = self.cursor.next;
    }

    /// Free slots.
    pub fn space_left(&mut self) -> u32 {
        self.space_left_within(None)
    }

    /// Free slots, with the run ended at `limit` if one is given (see
    /// [`Sq::cap`]): a scope's batch gives its own.
    pub(crate) fn space_left_within(&mut self, limit: Option<u32>) -> u32 {
        self.sq.cursor = self.cursor;
        let space = self.sq.space_left();
        let tail = self.sq.tail();
        self.sq.set_tail(tail, limit);
        self.cursor = self.sq.cursor;
        space
    }

    /// SQEs pushed through this batch or before it, not yet consumed by the
    /// kernel.
    pub fn len(&mut self) -> u32 {
        self.sq.cursor = self.cursor;
        self.sq.unconsumed()
    }

    /// Whether no pushed SQE waits for the kernel.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
}

/// `free` slots from `tail` on, or fewer: as many as `limit` leaves, if
/// one is given. A tail past the limit (which only a push that did not
/// keep to it leaves behind: a scope's own cancel requests) has no room.
#[inline(always)]
fn within(limit: Option<u32>, tail: u32, free: u32) -> u32 {
    match limit {
        Some(limit) => free.min((limit.wrapping_sub(tail) as i32).max(0) as u32),
        None => free,
    }
}

/// What a push checks and does beyond the queue's own room.
pub(crate) trait PushGate {
    /// Asked when the run lacks room for a push of `sqes` SQEs (`u32::MAX`
    /// for a chain too long to count) from ring position `tail` on, before
    /// the head is re-read: refuses the push with a reason, or lets it go
    /// on with the tail at which the new run must end, if any (see
    /// [`Sq::cap`]).
    fn admit(&mut self, tail: u32, sqes: u32) -> Result<Option<u32>, crate::error::PushErrorKind>;

    /// Called on every SQE the push wrote, in order, before any is
    /// published; must leave it valid.
    fn each(&mut self, sqe: &mut io_uring_sqe);

    /// Whether the gate reads each SQE's flags in `each` and answers
    /// [`drained`](Self::drained); otherwise the push reads them after it.
    const SEES_DRAIN: bool = false;

    /// With `SEES_DRAIN`: whether an SQE the push wrote is flagged
    /// `IOSQE_IO_DRAIN` as `each` left it.
    fn drained(&self) -> bool {
        false
    }
}

/// Hands `gate` each of the `n` SQEs written from ring position `start` on
/// (across the end of the array), in order, and notes in `sq` a drain
/// among them as the gate left them.
///
/// # Safety
///
/// The `n` slots from `start` on must have just been written by the push,
/// and be unpublished.
#[inline(always)]
unsafe fn gate_wrapped<S: SqeSize, G: PushGate>(sq: &mut Sq<S>, gate: &mut G, start: u32, n: u32) {
    for i in 0..n {
        let index = start.wrapping_add(i) & sq.mask;
        // SAFETY: one of the slots written (the caller's word), in the array
        // (masked), unpublished.
        gate_one(sq, gate, unsafe {
            &mut *S::sqe(sq.sqes.add(index as usize))
        });
    }
    gate_end(sq, gate);
}

/// Hands `gate` one SQE the push just wrote, and notes in `sq` a drain on
/// it as the gate left it, unless the gate answers for drains itself.
#[inline(always)]
fn gate_one<S: SqeSize, G: PushGate>(sq: &mut Sq<S>, gate: &mut G, sqe: &mut io_uring_sqe) {
    gate.each(sqe);
    if !G::SEES_DRAIN {
        note_drain(sq, sqe);
    }
}

/// Ends a push through `gate`: notes in `sq` the drain a gate that answers
/// for drains saw.
#[inline(always)]
fn gate_end<S: SqeSize, G: PushGate>(sq: &mut Sq<S>, gate: &G) {
    if G::SEES_DRAIN && gate.drained() {
        sq.drain = true;
    }
}

/// Notes in `sq` a pushed SQE flagged `IOSQE_IO_DRAIN` (after its gate,
/// which may have changed its flags). Free for an op whose flags are known
/// when it is built: the test folds away.
#[inline(always)]
pub(crate) fn note_drain<S: SqeSize>(sq: &mut Sq<S>, sqe: &io_uring_sqe) {
    if sqe.flags & sys::IOSQE_IO_DRAIN != 0 {
        sq.drain = true;
    }
}

/// The gate of the ring's own pushes: admits all, with no limit, and
/// calls its function on each SQE.
pub(crate) struct Ungated<F>(pub(crate) F);

impl<F: FnMut(&mut io_uring_sqe)> PushGate for Ungated<F> {
    #[inline(always)]
    fn admit(&mut self, _: u32, _: u32) -> Result<Option<u32>, crate::error::PushErrorKind> {
        Ok(None)
    }

    #[inline(always)]
    fn each(&mut self, sqe: &mut io_uring_sqe) {
        (self.0)(sqe)
    }
}

/// Where a push that did not fit its run goes, once the head is re-read.
enum Refreshed<S: SqeSize> {
    /// It fits the new run.
    Run(Cursor<S>),
    /// It fits only across the end of the array.
    Wrap,
    /// It does not fit.
    Full,
}

/// A push of `n` SQEs found fewer free slots in its run: re-read the kernel's
/// head and see where it fits. (Inlined into the push: measured against an
/// out-of-line call, NOPs in a scope cost 3 instructions less at batch 32
/// and random reads in a scope 10 less; the raw NOP loop is unchanged.)
#[inline(always)]
fn refresh<S: SqeSize>(
    sq: &mut Sq<S>,
    cursor: Cursor<S>,
    n: u32,
    limit: Option<u32>,
) -> Refreshed<S> {
    sq.cursor = cursor;
    if sq.room(limit) < n {
        return Refreshed::Full;
    }
    let tail = sq.tail();
    sq.set_tail(tail, limit);
    // One free slot always starts a run: the array's end is past the
    // tail's slot. Saying so for a one-SQE push leaves its loop without the
    // wrapping write, which the compiler cannot rule out otherwise.
    debug_assert!(sq.cursor.run() >= 1, "a free slot without a run");
    if n == 1 || sq.cursor.run() >= n as usize {
        Refreshed::Run(sq.cursor)
    } else {
        Refreshed::Wrap
    }
}

impl<S: SqeSize> Drop for SubmissionQueue<'_, S> {
    #[inline(always)]
    fn drop(&mut self) {
        // Only `next` moves on the fast path: every change of the run (a
        // refresh, a wrap, `space_left`) is made in the queue's cursor too.
        self.sync();
    }
}

impl<S: SqeSize> fmt::Debug for SubmissionQueue<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmissionQueue")
            .field("tail", &self.tail())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PushErrorKind;
    use crate::ops::Nop;

    /// An SQ ring mapping, SQE array and timespec array in local memory,
    /// each a leaked boxed slice reached only through its pointer, as the
    /// kernel's are only through their `mmap` pointers.
    struct FakeSq {
        ring: *mut u64,
        ring_words: usize,
        sqes: *mut io_uring_sqe,
        stable: *mut Timespec,
        entries: u32,
        off: sys::io_sqring_offsets,
    }

    fn leak<T>(boxed: Box<[T]>) -> *mut T {
        Box::into_raw(boxed).cast()
    }

    impl FakeSq {
        fn new(entries: u32) -> FakeSq {
            let ring_words = 3 + (entries as usize).div_ceil(2) + 1;
            let ring = leak(vec![0u64; ring_words].into_boxed_slice());
            let junk = io_uring_sqe {
                opcode: 0xAA,
                user_data: u64::MAX,
                ..io_uring_sqe::zeroed()
            };
            let sqes = leak(vec![junk; entries as usize].into_boxed_slice());
            let stable = leak(vec![Timespec::default(); entries as usize].into_boxed_slice());
            // SAFETY: the mask and the entries, inside the mapping.
            unsafe {
                ring.cast::<u32>().add(2).write(entries - 1);
                ring.cast::<u32>().add(3).write(entries);
            }
            let off = sys::io_sqring_offsets {
                head: 0,
                tail: 4,
                ring_mask: 8,
                ring_entries: 12,
                flags: 16,
                dropped: 20,
                array: 24,
                resv1: 0,
                user_addr: 0,
            };
            FakeSq {
                ring,
                ring_words,
                sqes,
                stable,
                entries,
                off,
            }
        }

        fn sq(&mut self) -> Sq {
            // SAFETY: the fake arrays are as the offsets say and outlive
            // the queue (dropped after it in each test).
            unsafe {
                Sq::new(
                    self.ring.cast(),
                    &self.off,
                    self.sqes,
                    self.stable,
                    false,
                    1,
                )
            }
        }

        fn word(&self, index: usize) -> &AtomicU32 {
            // SAFETY: a word of the live mapping, only ever used atomically
            // while a queue is alive.
            unsafe { &*self.ring.cast::<AtomicU32>().add(index) }
        }

        /// The kernel consumes every published SQE.
        fn consume(&self) {
            let tail = self.word(1).load(Ordering::Acquire);
            self.word(0).store(tail, Ordering::Release);
        }

        /// `(opcode, user_data, flags)` of slot `i`, read as the kernel
        /// would.
        fn slot(&self, i: u32) -> (u8, u64, u8) {
            // SAFETY: a slot of the live SQE array.
            let sqe = unsafe { self.sqes.add(i as usize).read() };
            (sqe.opcode, sqe.user_data, sqe.flags)
        }
    }

    impl Drop for FakeSq {
        fn drop(&mut self) {
            let n = self.entries as usize;
            // SAFETY: the boxed slices `new` leaked, each freed once.
            unsafe {
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.ring,
                    self.ring_words,
                )));
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.sqes, n,
                )));
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.stable,
                    n,
                )));
            }
        }
    }

    /// Pushes fill the SQ in place, a chain across the array's end is
    /// written whole (the wrapping writer), a chain without room for all
    /// its SQEs and an op on a full queue come back with nothing written,
    /// and the tail the kernel reads counts exactly what was pushed. Free
    /// of system calls, so that Miri checks the queue's pointers into the
    /// arrays (tests/scripts/miri.sh).
    #[test]
    fn pushes_fill_wrap_and_refuse_in_place() {
        let mut fake = FakeSq::new(4);
        let mut sq = fake.sq();
        {
            let mut q = SubmissionQueue::new(&mut sq);
            for ud in 1..4 {
                q.push(Nop::new().user_data(ud)).unwrap();
            }
        }
        sq.publish();
        assert_eq!(fake.word(1).load(Ordering::Acquire), 3);
        assert_eq!(
            (0..4).map(|i| fake.slot(i).1).collect::<Vec<_>>(),
            [1, 2, 3, u64::MAX]
        );
        fake.consume();
        {
            let mut q = SubmissionQueue::new(&mut sq);
            // Slots 3 and 0: across the end of the array.
            q.push(Nop::new().user_data(4).link(Nop::new().user_data(5)))
                .unwrap();
            q.push(Nop::new().user_data(6)).unwrap();
            q.push(Nop::new().user_data(7)).unwrap();
            // Full: the chain and the op come back, nothing written.
            let e = q
                .push(Nop::new().user_data(8).link(Nop::new().user_data(9)))
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::QueueFull);
            let e = q.push(Nop::new().user_data(10)).unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::QueueFull);
        }
        sq.publish();
        assert_eq!(fake.word(1).load(Ordering::Acquire), 7);
        assert_eq!(fake.slot(3), (sys::IORING_OP_NOP, 4, sys::IOSQE_IO_LINK));
        assert_eq!(fake.slot(0), (sys::IORING_OP_NOP, 5, 0));
        assert_eq!(fake.slot(1).1, 6);
        assert_eq!(fake.slot(2).1, 7);
        fake.consume();
    }
}
