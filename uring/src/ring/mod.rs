//! The ring: its file descriptor, its three mappings, and its two queues.

use crate::builder::Builder;
use crate::cqueue::{Completions, Cq, VirtualCq};
use crate::entries::{Cqe16, CqeSize, Sqe64, SqeSize};
use crate::error::{Error, PushError, Result};
use crate::mmap::Mapping;
use crate::op::{Submission, Unborrowed};
use crate::params::Params;
use crate::scope::ScopeTable;
use crate::squeue::{Sq, SubmissionQueue, VacantSqe};
use crate::sys;
use std::fmt;
use std::mem;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// An io_uring instance: a submission queue, a completion queue and the
/// kernel object behind them.
///
/// Ops are pushed with [`push`](Ring::push) (safe for ops that borrow nothing
/// short-lived), in a [`scope`](Ring::scope) (safe for ops that borrow), or
/// with [`push_unchecked`](Ring::push_unchecked); they reach the
/// kernel with [`submit`](Ring::submit) or one of the waiting calls; their
/// completions are read with [`completions`](Ring::completions),
/// [`peek`](Ring::peek) or [`peek_batch`](Ring::peek_batch).
///
/// Dropping the ring unmaps its queues and closes its descriptor;
/// [`close`](Ring::close) does the same and reports a failure.
///
/// The ring hands out no borrowed or owned copy of its descriptor (it is
/// `AsRawFd`, not `AsFd`): an op can name a ring only through a `&Ring`,
/// which a [`scope`](Ring::scope) excludes, so no safe code can post
/// completions (`MSG_RING`) into a ring while a scope relies on them.
///
/// ```
/// use uring::{Ring, ops::Nop};
/// # fn main() -> uring::Result<()> {
/// let mut ring = Ring::new(8)?;
/// ring.push(Nop::new().user_data(7))?;
/// ring.submit_and_wait(1)?;
/// let cqe = ring.completions().next().unwrap();
/// assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
/// # Ok(())
/// # }
/// ```
pub struct Ring<S: SqeSize = Sqe64, C: CqeSize = Cqe16> {
    pub(crate) sq: Sq<S>,
    pub(crate) cq: Cq<C>,
    /// The ring fd's index once registered with [`Ring::register_ring_fd`]
    /// (`IORING_ENTER_REGISTERED_RING` is then in `enter_flags`).
    pub(crate) enter_fd: RawFd,
    /// `IORING_ENTER_REGISTERED_RING` once the ring fd is registered.
    pub(crate) enter_flags: u32,
    /// The flags of an enter that waits on the slow path:
    /// `IORING_ENTER_GETEVENTS`, with `IORING_ENTER_NO_IOWAIT` once
    /// [`Ring::set_iowait`] turned the accounting off (which sends every
    /// wait there).
    pub(crate) wait_flags: u32,
    /// The thread that registered the ring fd (see `thread_key`): the
    /// registration lives in its table, so only its enters may use the index.
    pub(crate) registered_by: u64,
    pub(crate) setup_flags: u32,
    pub(crate) fd: RawFd,
    pub(crate) params: Params,
    /// Unique among the rings of the process (never reused): what fixed
    /// files and buffer rings record to be refused elsewhere.
    pub(crate) id: u32,
    attached_to: Option<RawFd>,
    /// The SQ ring, CQ ring (unless shared) and SQE mappings, unmapped on drop.
    _maps: Vec<Mapping>,
    /// One timespec per SQ slot, for the ring-owned arguments of the SQEs
    /// (see `SqeSlot::ring_owned`); in a mapping of its own, so that a
    /// teardown that cannot be sure the kernel has read them all can keep
    /// their addresses from being reused.
    stable: Option<Mapping>,
    /// Set by [`Ring::dontfork`]: the mappings above are kept out of the
    /// children of `fork`, and those a resize makes are too.
    pub(crate) dontfork: bool,
    /// Created with `IORING_SETUP_R_DISABLED` and not enabled yet.
    pub(crate) disabled: bool,
    /// While completions are read from a copy in user memory rather than
    /// from the kernel's CQ: the kernel's CQ, and the copy (see
    /// [`VirtualCq`]).
    pub(crate) virtual_cq: Option<Box<VirtualCq<C>>>,
    /// The bookkeeping of [`Ring::scope`], kept between scopes.
    pub(crate) scope_table: ScopeTable,
    /// Wait arguments registered with the ring.
    pub(crate) wait_region: Option<crate::wait::WaitRegion>,
    /// Set once a completion may reach the ring that no scope op posted:
    /// an op was pushed outside a scope, or the ring was lent as a target
    /// for messages (`MsgRing`, `post`). Scopes of a ring without it need
    /// no tags for most of their ops (see the scope module).
    pub(crate) outside: std::cell::Cell<bool>,
    /// How many [`RingTarget`]s of the ring are alive, once one was made:
    /// while any is, another thread may post into the ring, and its scopes
    /// refuse every push.
    pub(crate) msg_targets: std::cell::OnceCell<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    /// The fewest completions that `submit_and_wait` leaves to its slow
    /// path: one more than the CQ holds, or 0 (all of them) on an SQPOLL
    /// ring and while completions are read from the virtual CQ.
    pub(crate) fast_wait_limit: u32,
    /// The error of `submit_and_wait`'s slow path, on its way out.
    pub(crate) wait_error: Option<crate::Error>,
    /// The clock the ring's waits are timed on ([`Ring::register_clock`]).
    pub(crate) wait_clock: crate::Clock,
    /// The personalities registered and not unregistered, each id with the
    /// registration count it was handed out at: the kernel hands an id out
    /// again once it is free, and a handle of an earlier registration must
    /// not unregister a later one. Keyed by id: a ring may hold all 65535.
    pub(crate) personalities: std::collections::HashMap<u16, u32>,
    /// Personalities registered so far (see `personalities`).
    pub(crate) personality_count: u32,
    /// The SQE rules of the restrictions registered through the ring.
    pub(crate) sqe_rules: Option<crate::register::SqeRules>,
}

// SAFETY: the ring owns its mappings and descriptor; nothing in it is tied to
// the thread that created it (a SINGLE_ISSUER ring reports submissions from
// another task as an error, it does not misbehave; a DEFER_TASKRUN ring whose
// submitter exited never gets the completions of the ops it left in flight,
// which the kernel ends at the ring's close; on another thread its
// submissions are refused, and a scope takes back the SQEs the kernel did
// not take, so nothing it lends reaches the kernel).
unsafe impl<S: SqeSize, C: CqeSize> Send for Ring<S, C> {}

static NEXT_RING_ID: AtomicU32 = AtomicU32::new(1);

/// A fresh ring id; none is ever handed out twice (after 2^32 - 1 rings,
/// setup is refused).
fn next_ring_id() -> Result<u32> {
    NEXT_RING_ID
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| id.checked_add(1))
        .map_err(|_| Error::Setup("every ring id of this process has been used"))
}

/// How long a teardown waits for an SQ thread to consume what was published
/// before it gives the ring-owned timespecs up for good instead of freeing
/// them.
const TEARDOWN_PATIENCE: Duration = Duration::from_millis(100);

/// A bit of `Ring::setup_flags` that no kernel flag uses: set while the ring
/// reads a [`VirtualCq`], so that the checks of setup flags that the hot
/// paths make anyway send waits to the slow path, which knows about it.
pub(crate) const VIRTUAL_CQ: u32 = 1 << 31;

impl Ring {
    /// A ring of `entries` SQ entries (rounded up to a power of two) and
    /// twice as many CQ entries, with no other option.
    pub fn new(entries: u32) -> Result<Ring> {
        Builder::new().build(entries)
    }

    /// A [`Builder`] for a ring with options.
    pub fn builder() -> Builder<'static> {
        Builder::new()
    }

    /// Creates `count` rings of `entries` entries each, with `wp_count` worker
    /// pools between them: the first `wp_count` rings own a pool, and the
    /// other `count - wp_count` attach to those owners in turn
    /// (`IORING_SETUP_ATTACH_WQ`), `count / wp_count` rings per pool.
    ///
    /// `wp_count` must be between 1 and `count` and divide `count`, and
    /// `builder` must not attach to a ring already
    /// ([`Builder::attach_wq`]: the owners would not own their pools).
    /// Dropping the rings closes them all.
    ///
    /// What attaching shares depends on the rings. With SQPOLL
    /// ([`Builder::sqpoll`]), an attached ring shares its owner's SQ thread,
    /// and with it that thread's io-wq workers. Without it, Linux 6.18 only
    /// checks that the owner is a ring: io-wq workers belong to the thread
    /// that submits (one pool per thread, whichever of its rings it submits
    /// to), so the rings share pools as the threads that use them do, and
    /// `wp_count` (go-uring's worker pools) says which rings were made to
    /// go together, not how many pools there are.
    pub fn create_many(
        count: usize,
        entries: u32,
        wp_count: usize,
        builder: &Builder<'_>,
    ) -> Result<Vec<Ring>> {
        if count == 0 {
            return Err(Error::InvalidArgument(
                "create_many needs count >= 1".into(),
            ));
        }
        if wp_count == 0 || wp_count > count || !count.is_multiple_of(wp_count) {
            return Err(Error::InvalidArgument(format!(
                "create_many needs 1 <= wp_count <= count and count % wp_count == 0 \
                 (count {count}, wp_count {wp_count})"
            )));
        }
        if builder.wq_fd().is_some() {
            return Err(Error::InvalidArgument(
                "create_many makes its own owners of worker pools: its builder attaches to \
                 another ring (attach_wq)"
                    .into(),
            ));
        }
        let mut rings = Vec::new();
        rings
            .try_reserve_exact(count)
            .map_err(|_| Error::InvalidArgument(format!("no memory for {count} rings")))?;
        for _ in 0..wp_count {
            rings.push(builder.build(entries)?);
        }
        for i in wp_count..count {
            let owner = &rings[i % wp_count];
            let ring = builder.clone().attach_wq(owner).build(entries)?;
            rings.push(ring);
        }
        Ok(rings)
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Moves the completions of the kernel's CQ to a copy in user memory,
    /// which the ring reads first (see [`VirtualCq`]).
    pub(crate) fn enter_virtual_cq(&mut self) {
        match &mut self.virtual_cq {
            Some(v) => v.absorb(&mut self.cq),
            None => {
                let mut v = VirtualCq::enter(&mut self.cq);
                v.absorb(&mut self.cq);
                self.virtual_cq = Some(v);
                self.setup_flags |= VIRTUAL_CQ;
                self.set_fast_wait_limit();
            }
        }
    }

    /// The parameters the kernel reported at setup, with the sizes of the
    /// last [`resize`](Ring::resize).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The descriptor of the ring whose worker pool this ring shares, if it
    /// was created with [`Builder::attach_wq`]: the number it had then,
    /// which names that ring only while it lives (once it is dropped, the
    /// number may name any file opened since; the pool lives on with this
    /// ring).
    pub fn attached_wq(&self) -> Option<RawFd> {
        self.attached_to
    }

    /// The number of SQ entries.
    pub fn sq_entries(&self) -> u32 {
        self.sq.entries
    }

    /// The number of CQ entries.
    pub fn cq_entries(&self) -> u32 {
        self.cq.entries
    }

    pub(crate) fn has_setup(&self, flag: u32) -> bool {
        self.setup_flags & flag != 0
    }

    /// Whether the restrictions registered through the ring make the
    /// kernel refuse (`EACCES`) an SQE of `opcode` carrying `flags`.
    pub(crate) fn refuses_sqe(&self, opcode: u8, flags: u8) -> bool {
        self.sqe_rules
            .is_some_and(|rules| rules.refuses(opcode, flags))
    }

    /// Whether those restrictions refuse every SQE carrying `flags`.
    pub(crate) fn refuses_sqe_flags(&self, flags: u8) -> bool {
        self.sqe_rules
            .is_some_and(|rules| rules.refuses_flags(flags))
    }

    /// Pushes an op or a chain: its SQEs are written in place, all of them or
    /// none. Hands the submission back in a [`PushError`] when the queue
    /// lacks room for all its SQEs (a chain longer than the queue never
    /// fits).
    ///
    /// Only submissions that borrow nothing ([`Unborrowed`]: no buffer, no
    /// descriptor, no registered file) can be pushed this way, since the
    /// kernel uses what an op names after the call returns: `Nop`,
    /// `Timeout`, `Cancel`, `Socket`, ... Ops that borrow go through a
    /// [`scope`](Ring::scope), or [`push_unchecked`](Ring::push_unchecked).
    #[inline]
    pub fn push<T: Submission<S> + Unborrowed>(
        &mut self,
        submission: T,
    ) -> Result<(), PushError<T>> {
        self.submission().push(submission)
    }

    /// Pushes an op or a chain whose borrows the caller keeps alive: the
    /// zero-cost floor under the safe surfaces.
    ///
    /// # Safety
    ///
    /// Everything the submission borrows must stay as the borrow says until
    /// the op's last completion has been read (the one without
    /// `IORING_CQE_F_MORE`: multishot ops and zero-copy sends post several),
    /// even if the ring is dropped or the submission never submitted (the
    /// ring may submit it later):
    /// - every buffer, iovec array, address or other memory stays valid, and
    ///   is not accessed in a way that conflicts with the kernel's use;
    /// - every descriptor stays open, naming the same file;
    /// - every registered file's registration stays as it is (the handle
    ///   is neither unregistered nor its slots updated or closed), and a
    ///   `&Ring` target stays borrowed (so no scope of that ring starts);
    /// - every registered file ([`Fixed`](crate::Fixed), a direct
    ///   descriptor's slot) is one of this ring's table: pushed here, a slot
    ///   of another ring's table would name whatever this ring's table holds
    ///   at that index. The safe pushes refuse it
    ///   ([`PushErrorKind::ForeignFile`](crate::PushErrorKind::ForeignFile));
    ///   this one only asserts it in debug builds, so that the floor costs no
    ///   more than the SQE writes.
    ///
    /// Buffers given to the kernel with `ProvideBuffers` stay in its use
    /// beyond that op's completion: until an op has consumed each of them
    /// (its completion names the buffer, which tells which one only while
    /// no two buffers the kernel holds share an id), or a `RemoveBuffers`
    /// took it back (its result counts them). A receive bundle
    /// (`RecvFlags::BUNDLE`) over such a group is the exception: Linux 6.18
    /// may fill a second buffer and name only the first, with the bytes of
    /// both in its result (more than the named buffer holds); the second
    /// is off the group for good, and no `RemoveBuffers` finds it. Closing the ring does not end
    /// that use at a point the program can see: the kernel's ring lives on
    /// while any duplicate of its descriptor does (a
    /// [`BufRing`](crate::BufRing), [`RawBufRing`](crate::RawBufRing) or
    /// [`RingTarget`](crate::RingTarget)), its ops in flight still
    /// selecting buffers, and its teardown runs after the last `close`
    /// returns. Memory still provided when the ring is dropped must be
    /// leaked.
    #[inline]
    pub unsafe fn push_unchecked<T: Submission<S>>(
        &mut self,
        submission: T,
    ) -> Result<(), PushError<T>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.submission().push_unchecked(submission) }
    }

    /// Pushes a chain whose length is known only at run time ([`Linked`]):
    /// all its SQEs or none; it comes back in the [`PushError`] when the
    /// queue lacks room for all of them. Its elements borrow nothing, as
    /// for [`push`](Ring::push); chains of ops that borrow go through
    /// [`Scope::push_linked`](crate::Scope::push_linked).
    ///
    /// [`Linked`]: crate::Linked
    pub fn push_linked<T: Submission<S> + Unborrowed>(
        &mut self,
        chain: crate::Linked<T>,
    ) -> Result<(), PushError<crate::Linked<T>>> {
        self.submission().push_linked(chain)
    }

    /// Pushes a chain of run-time length whose borrows the caller keeps
    /// alive, as [`push_unchecked`](Ring::push_unchecked) pushes one op.
    ///
    /// # Safety
    ///
    /// As for [`push_unchecked`](Ring::push_unchecked), for every element.
    pub unsafe fn push_linked_unchecked<T: Submission<S>>(
        &mut self,
        chain: crate::Linked<T>,
    ) -> Result<(), PushError<crate::Linked<T>>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.submission().push_linked_unchecked(chain) }
    }

    /// A batch of pushes: the SQ's tail and free space stay in registers
    /// until the batch is dropped, which makes a loop of pushes as cheap as
    /// the SQE writes themselves.
    ///
    /// ```
    /// use uring::{Ring, ops::Nop};
    /// # fn main() -> uring::Result<()> {
    /// let mut ring = Ring::new(64)?;
    /// let mut sq = ring.submission();
    /// for i in 0..32 {
    ///     sq.push(Nop::new().user_data(i))?;
    /// }
    /// drop(sq);
    /// ring.submit_and_wait(32)?;
    /// assert_eq!(ring.completions().count(), 32);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn submission(&mut self) -> SubmissionQueue<'_, S> {
        self.outside.set(true);
        SubmissionQueue::new(&mut self.sq)
    }

    /// Writes raw SQEs, as given, into the queue: all of them or none.
    ///
    /// # Safety
    ///
    /// Each SQE must be valid for the running kernel, and everything it
    /// points to must stay valid as for [`push_unchecked`](Ring::push_unchecked).
    pub unsafe fn push_raw(&mut self, sqes: &[sys::io_uring_sqe]) -> Result<(), PushError<()>> {
        self.outside.set(true);
        let sq = &mut self.sq;
        let Some(n) = u32::try_from(sqes.len())
            .ok()
            .filter(|&n| sq.space_left() >= n)
        else {
            return Err(PushError::full(()));
        };
        // SAFETY: `n` slots are free from the tail on (checked above), and
        // every one is written before the tail moves past them.
        unsafe {
            sq.write_wrapping(None, n, |writer| {
                for sqe in sqes {
                    writer.next_slot().write(*sqe);
                }
            })
        };
        for sqe in sqes {
            crate::squeue::note_drain(sq, sqe);
        }
        Ok(())
    }

    /// The next free SQ slot, zeroed, for an SQE written by hand (go-uring's
    /// `NextSQE`, liburing's `io_uring_get_sqe`); `None` when the queue is
    /// full. The SQE joins the queue only at
    /// [`VacantSqe::commit`](crate::VacantSqe::commit), the `unsafe` step
    /// where its contents become the kernel's; a slot dropped before it
    /// stays free.
    ///
    /// ```
    /// use uring::{Ring, sys};
    /// # fn main() -> uring::Result<()> {
    /// let mut ring = Ring::new(8)?;
    /// let mut sqe = ring.next_sqe().expect("an empty queue has room");
    /// sqe.opcode = sys::IORING_OP_NOP;
    /// sqe.user_data = 7;
    /// // SAFETY: a NOP names no memory.
    /// unsafe { sqe.commit() };
    /// ring.submit_and_wait(1)?;
    /// let cqe = ring.completions().next().unwrap();
    /// assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
    /// # Ok(())
    /// # }
    /// ```
    pub fn next_sqe(&mut self) -> Option<VacantSqe<'_, S>> {
        self.outside.set(true);
        VacantSqe::new(&mut self.sq)
    }

    /// Free SQ slots.
    pub fn space_left(&mut self) -> u32 {
        self.sq.space_left()
    }

    /// SQEs pushed and not yet consumed by the kernel.
    pub fn pending(&mut self) -> u32 {
        self.sq.unconsumed()
    }

    /// Copies of the SQEs pushed and not yet consumed by the kernel, in
    /// queue order: what the next submit will hand over, byte for byte
    /// (`io_uring_sqe`, or `io_uring_sqe128` on a ring of
    /// [`Sqe128`](crate::Sqe128) SQEs).
    pub fn pending_sqes(&mut self) -> impl ExactSizeIterator<Item = S::Slot> + '_ {
        let count = self.sq.unconsumed();
        let sq = &self.sq;
        let first = sq.head;
        (0..count).map(move |i| {
            let index = first.wrapping_add(i) & sq.mask;
            // SAFETY: the slot is between the kernel's head and our tail, so
            // it holds an SQE a push wrote; the kernel only reads SQEs.
            unsafe { sq.sqes.add(index as usize).read() }
        })
    }

    /// SQEs the kernel dropped as invalid since the ring was created.
    pub fn dropped(&self) -> u32 {
        self.sq.dropped()
    }

    /// Completions ready to be read. On a ring of mixed-size CQEs
    /// ([`CqeMixed`](crate::CqeMixed)) this counts slots: a 32-byte
    /// completion takes two, and the kernel's padding before one at the end
    /// of the ring takes one.
    ///
    /// After a scope had to move completions out of a full CQ, those come
    /// first: until they are read, this counts them alone (a wait still
    /// counts everything ready).
    #[inline]
    pub fn ready(&self) -> u32 {
        self.cq.ready()
    }

    /// Completions the kernel could not post because the CQ was full and it
    /// could not keep them (kernels without `IORING_FEAT_NODROP`).
    pub fn overflow(&self) -> u32 {
        self.cq.overflow()
    }

    /// Whether the CQ overflowed and the kernel holds completions back
    /// (`IORING_SQ_CQ_OVERFLOW`; liburing's `io_uring_cq_has_overflow`):
    /// reading completions, a wait or [`get_events`](Ring::get_events)
    /// moves them into the CQ as it empties.
    pub fn cq_has_overflow(&self) -> bool {
        self.sq.flags() & sys::IORING_SQ_CQ_OVERFLOW != 0
    }

    /// Whether the ring's SQ thread sleeps and must be woken to see new
    /// SQEs (`IORING_SQ_NEED_WAKEUP`; liburing reads `*sq.kflags`): always
    /// `false` without [`Builder::sqpoll`]. Every submit checks it and wakes
    /// the thread itself; this is for watching the thread.
    pub fn sq_needs_wakeup(&self) -> bool {
        self.sq.need_wakeup()
    }

    /// Whether the kernel has task work that waits for an enter before its
    /// completions are posted (`IORING_SQ_TASKRUN`, which the kernel sets
    /// only on rings made with [`Builder::taskrun_flag`]).
    pub fn has_task_work(&self) -> bool {
        self.sq.flags() & sys::IORING_SQ_TASKRUN != 0
    }

    /// The completions that are ready, in order. The head advances past those
    /// iterated when the iterator is dropped.
    ///
    /// When none is ready and the kernel holds some back (CQ overflow, task
    /// work flagged with [`Builder::taskrun_flag`], IOPOLL rings), this first
    /// enters the kernel to flush them.
    #[inline]
    pub fn completions(&mut self) -> Completions<'_, C> {
        let tail = self.ready_tail();
        Completions::new(&mut self.cq, tail)
    }

    /// The CQ's tail, after flushing what the kernel holds back when
    /// nothing is ready.
    #[inline(always)]
    pub(crate) fn ready_tail(&mut self) -> u32 {
        let tail = self.cq.tail();
        if tail == self.cq.head() {
            self.flush_completions()
        } else if C::MAX_SLOTS != 1 {
            self.ready_tail_mixed(tail)
        } else {
            tail
        }
    }

    /// [`ready_tail`](Ring::ready_tail) on a mixed CQ whose head is not at
    /// the tail: what lies there may be only the kernel's padding (a slot
    /// flagged `IORING_CQE_F_SKIP` at the array's end), with a 32-byte
    /// completion it could not fit held back behind it. The head moves past
    /// the padding, the kernel is shown it, and the held-back completions
    /// are flushed when nothing else is ready, as on a plain CQ.
    #[cold]
    fn ready_tail_mixed(&mut self, tail: u32) -> u32 {
        let head = self.cq.head();
        self.cq.skip_padding();
        if self.cq.head() == head {
            return tail;
        }
        self.cq.publish_head();
        let tail = self.cq.tail();
        if tail == self.cq.head() {
            self.flush_completions()
        } else {
            tail
        }
    }

    /// The submission queue and the ready completions at once, so that ops
    /// can be pushed while completions are read (the usual shape of an event
    /// loop); submit once both are dropped.
    ///
    /// ```
    /// use uring::{Ring, ops::Nop};
    /// # fn main() -> uring::Result<()> {
    /// let mut ring = Ring::new(8)?;
    /// ring.push(Nop::new().user_data(1))?;
    /// ring.submit_and_wait(1)?;
    /// let (mut sq, completions) = ring.split();
    /// for cqe in completions {
    ///     // Each completion is answered with a new op.
    ///     sq.push(Nop::new().user_data(cqe.user_data() + 1))?;
    /// }
    /// drop(sq);
    /// ring.submit_and_wait(1)?;
    /// assert_eq!(ring.completions().next().map(|c| c.user_data()), Some(2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn split(&mut self) -> (SubmissionQueue<'_, S>, Completions<'_, C>) {
        let tail = self.ready_tail();
        self.outside.set(true);
        (
            SubmissionQueue::new(&mut self.sq),
            Completions::new(&mut self.cq, tail),
        )
    }

    /// The next completion, left in the queue (see [`advance`](Ring::advance)).
    #[inline]
    pub fn peek(&mut self) -> Option<C::Cqe> {
        // The tail is read once: the completion before it is the one shown.
        let tail = self.ready_tail();
        let mut out = None;
        self.cq.scan_to(tail, 1, |cqe| out = Some(cqe));
        out
    }

    /// Copies up to `out.len()` ready completions into `out`, leaving them in
    /// the queue, and returns how many it copied.
    pub fn peek_batch(&mut self, out: &mut [C::Cqe]) -> usize {
        // Flushes what the kernel holds back when nothing is ready (past
        // the padding of a mixed CQ).
        self.ready_tail();
        let mut n = 0;
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        self.cq.scan(want, |cqe| {
            out[n] = cqe;
            n += 1;
        });
        n
    }

    /// Marks the next `n` completions as seen, handing their slots back to
    /// the kernel. Never moves past what is ready: returns how many it
    /// advanced.
    #[inline]
    pub fn advance(&mut self, n: u32) -> u32 {
        let (seen, head) = self.cq.scan(n, |_| {});
        self.cq.set_head(head);
        seen
    }

    /// Enters the kernel if it holds completions back; returns the tail.
    #[cold]
    #[inline(never)]
    fn flush_completions(&mut self) -> u32 {
        if self.virtual_cq.is_some() {
            self.leave_virtual_cq();
            if self.virtual_cq.is_some() {
                return self.cq.tail();
            }
        }
        if self.sq.cq_needs_flush() || self.has_setup(sys::IORING_SETUP_IOPOLL) {
            // A failure leaves the completions in the kernel, where the next
            // call finds them.
            let _ = self.enter(
                0,
                0,
                sys::IORING_ENTER_GETEVENTS,
                crate::submit::EnterArg::None,
            );
        }
        self.cq.tail()
    }

    /// Recomputes [`fast_wait_limit`](Ring::fast_wait_limit) from the setup
    /// flags, the wait flags and the CQ's size. (Waits without iowait take
    /// the slow path, which passes the ring's wait flags: the fast one
    /// passes `IORING_ENTER_GETEVENTS` as an immediate, a move cheaper.)
    pub(crate) fn set_fast_wait_limit(&mut self) {
        // A mixed CQ counts slots, and a wait must not ask for every one
        // of them (see `Cq::wait_target`).
        self.fast_wait_limit = if self.setup_flags & (sys::IORING_SETUP_SQPOLL | VIRTUAL_CQ) != 0
            || self.wait_flags != sys::IORING_ENTER_GETEVENTS
            || C::MAX_SLOTS != 1
        {
            0
        } else {
            self.cq.entries.saturating_add(1)
        };
    }

    /// Reads the kernel's CQ again once the copy has been read to its end.
    pub(crate) fn leave_virtual_cq(&mut self) {
        if let Some(v) = self.virtual_cq.take_if(|v| v.drained(&self.cq)) {
            v.leave(&mut self.cq);
            self.setup_flags &= !VIRTUAL_CQ;
            self.set_fast_wait_limit();
        }
    }

    /// Enables a ring created with [`Builder::r_disabled`].
    pub fn enable(&mut self) -> Result<()> {
        self.register(
            sys::IORING_REGISTER_ENABLE_RINGS,
            std::ptr::null(),
            0,
            "IORING_REGISTER_ENABLE_RINGS",
        )?;
        self.disabled = false;
        Ok(())
    }

    /// Closes the ring, reporting a failure to close its descriptor.
    pub fn close(mut self) -> Result<()> {
        let fd = self.tear_down();
        drop(self);
        if fd < 0 {
            return Ok(());
        }
        // SAFETY: `fd` is the ring's own descriptor, which nothing uses now
        // that the ring is dropped.
        unsafe { sys::close(fd) }.map_err(|e| Error::os("close", e))
    }

    /// Readies the ring's memory to go and hands its descriptor over for
    /// closing (-1 when done already).
    ///
    /// The kernel reads an SQE's ring-owned timespec when it consumes the
    /// SQE. Without an SQ thread it consumes SQEs only in an enter, which
    /// nothing makes once the ring is gone, so the timespecs can go. An SQ
    /// thread consumes published SQEs on its own, also after the ring's
    /// descriptor is closed when the kernel ring lives on (a duplicate held
    /// by a [`BufRing`](crate::BufRing), an SQ thread shared with attached
    /// rings): the thread is woken and given [`TEARDOWN_PATIENCE`] to
    /// consume them; what it has not consumed by then keeps the timespecs'
    /// addresses reserved for good, so that it reads a fault, never memory
    /// reused since.
    fn tear_down(&mut self) -> RawFd {
        let done = (self.fd < 0 && self.enter_flags == 0) || self.sq_thread_done();
        if !done && let Some(stable) = self.stable.take() {
            stable.retire();
        }
        // A registered ring fd holds a reference to the ring in the
        // registering thread's table; release it there, or the ring would
        // outlive its descriptor until that thread exits. (For a ring made
        // with `registered_fd_only`, that is the ring's last reference.)
        if self.enter_flags != 0 {
            let _ = self.release_ring_fd();
        }
        mem::replace(&mut self.fd, -1)
    }

    /// Whether no SQ thread can still read a published SQE: there is none,
    /// it has consumed everything published (waiting for it a little), or it
    /// can never run.
    fn sq_thread_done(&mut self) -> bool {
        if !self.has_setup(sys::IORING_SETUP_SQPOLL) || self.disabled {
            return true;
        }
        let deadline = Instant::now() + TEARDOWN_PATIENCE;
        loop {
            if self.sq.published_unconsumed() == 0 {
                return true;
            }
            if self.sq.need_wakeup() {
                match self.enter(
                    0,
                    0,
                    sys::IORING_ENTER_SQ_WAKEUP,
                    crate::submit::EnterArg::None,
                ) {
                    // The thread is gone for good: nothing consumes SQEs.
                    Err(e) if e.raw_os_error() == Some(libc::EOWNERDEAD) => return true,
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl<S: SqeSize, C: CqeSize> Drop for Ring<S, C> {
    fn drop(&mut self) {
        let fd = self.tear_down();
        if fd >= 0 {
            // SAFETY: the ring owns `fd`, and nothing uses it after this.
            let _ = unsafe { sys::close(fd) };
        }
    }
}

impl<S: SqeSize, C: CqeSize> AsRawFd for Ring<S, C> {
    /// The ring's descriptor, as a number. The ring does not lend it out as
    /// a `BorrowedFd`: see [`Ring`].
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl<S: SqeSize, C: CqeSize> fmt::Debug for Ring<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("fd", &self.fd)
            .field("sq_entries", &self.sq.entries)
            .field("cq_entries", &self.cq.entries)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

mod memory;
pub(crate) mod msg_target;
pub use msg_target::RingTarget;
