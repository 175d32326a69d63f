//! The reactor's core: the ring, the slab of in-flight ops, and the
//! routing of each completion to the slot its `user_data` names.

use crate::buf_ring::BufRing;
use crate::chain::Link;
use crate::cqueue::Cqe;
use crate::op::{Prepare, Submission};
use crate::ops::{Cancel, LinkTimeout, PollAdd};
use crate::reactor::cell::Cell;
use crate::reactor::exec::ReadyQueue;
use crate::reactor::op::Completion;
use crate::reactor::ring_buf::{BufGroup, RingBuf};
use crate::reactor::slab::{NO_FAST, NO_SLOT, Slab, State, Storage, Stored};
use crate::register::SyncCancel;
use crate::ring::Ring;
use crate::squeue::SubmissionQueue;
use crate::sys;
use crate::types::{BufferGroup, CancelFlags};
use crate::{Error, PollEvents, PollFlags};
use crate::{TimeoutFlags, Timespec};
use std::cell::{RefCell, RefMut};
use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

/// A deadline, as the link timeout that holds an op to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Timespec,
    pub(crate) flags: TimeoutFlags,
}

impl Deadline {
    /// The link timeout of `deadline`: absolute on `CLOCK_MONOTONIC`, the
    /// clock of `Instant`, so that it holds however long the SQE waits for
    /// the reactor's next submit; the time left instead in a time namespace
    /// with an offset, which kernels before the fix leave out of absolute
    /// timeouts (see `sys::time_namespace_offset`): there a deadline counts
    /// from the submit.
    pub(crate) fn new(deadline: std::time::Instant) -> Deadline {
        if sys::time_namespace_offset() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            Deadline {
                at: Timespec::from(left),
                flags: TimeoutFlags::empty(),
            }
        } else {
            Deadline {
                at: Timespec::monotonic_at(deadline),
                flags: TimeoutFlags::ABS,
            }
        }
    }
}

/// The id of a queued op, for [`Handle::cancel`](crate::reactor::Handle::cancel):
/// its reactor's ring, its slot and the slot's generation when it was
/// queued, so that an id outliving its op never names the slot's next op,
/// and one of another reactor never names an op of this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpId {
    pub(crate) index: u32,
    pub(crate) generation: u64,
    /// The id of the reactor's ring (ring ids are never reused).
    pub(crate) ring: u32,
}

impl OpId {
    /// The slab slot the op holds (reused by later ops, under a new
    /// generation).
    pub fn slot(&self) -> u32 {
        self.index
    }
}

/// Fails to compile for submissions of more than one SQE.
struct One<S>(S);

impl<S: Prepare> One<S> {
    const CHECK: () = assert!(S::SQES == 1, "a reactor op is one SQE");
}

/// What to do, once the core is no longer borrowed, with a completion.
pub(crate) enum Action {
    /// Nothing (a completion of no live op, or one kept in its slot).
    None,
    /// Wake the future or stream waiting for it.
    Wake(Waker),
    /// Run a one-shot op's callback, whose slot is released already: the
    /// call takes the value out of the storage before anything else.
    Call {
        call: unsafe fn(*mut Storage, i32, u32, Option<RingBuf>),
        storage: *mut Storage,
        completion: Completion,
    },
    /// Run a multishot op's callback; then [`Core::finish_each`].
    Each {
        each: unsafe fn(*mut Storage, Completion),
        storage: *mut Storage,
        completion: Completion,
        index: u32,
        last: bool,
    },
    /// Drop a value taken out of a released slot (boxed: the rare case
    /// keeps the common ones small).
    Discard(Box<Garbage>),
    /// A stream's item panicked: wake, drop, then resume the panic.
    Panicked(Box<Panicked>),
}

/// A `MultishotOp::item` that panicked while the core was borrowed: what
/// to do once it is released, before the panic goes on.
pub(crate) struct Panicked {
    pub(crate) panic: Box<dyn std::any::Any + Send>,
    /// The stream's reader, to wake.
    pub(crate) waker: Option<Waker>,
    /// A dropped stream's value, after its last completion.
    pub(crate) garbage: Option<Box<Garbage>>,
}

/// Runs the making of a stream's item (the op's code, run with the core
/// borrowed), catching a panic so that the slot is settled first.
#[inline(always)]
fn catch_item(make: impl FnOnce()) -> std::thread::Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(make))
}

/// What [`Core::refill`] found.
pub(crate) enum Refill {
    /// Completions moved out of a full CQ wait: handle them first.
    Pending,
    /// The kernel posted completions: read them.
    Posted,
    /// Nothing is ready.
    Empty,
    /// The reap's budget is spent (see `REAP_BUDGET`): what was read went
    /// back to the kernel, and the rest waits for the next reap.
    Later,
}

/// What follows a multishot op's callback.
pub(crate) enum Finish {
    /// A completion that arrived while it ran: run it again with it.
    Again(Completion),
    /// Nothing more for now; the value to drop after the last completion.
    Done(Option<Garbage>),
}

/// A one-shot callback to run once the core is no longer borrowed: the
/// common case of [`Action::Call`], with no provided buffer. Its slot is
/// released already; the call takes the value out of the storage first.
pub(crate) struct Call {
    pub(crate) call: unsafe fn(*mut Storage, i32, u32, Option<RingBuf>),
    pub(crate) storage: *mut Storage,
    pub(crate) res: i32,
    pub(crate) flags: u32,
}

/// A value taken out of its slot, to be dropped once the core is no longer
/// borrowed (its drop is the program's code).
pub(crate) struct Garbage {
    discard: unsafe fn(*mut Storage, Option<Completion>),
    storage: Storage,
    completion: Option<Completion>,
}

impl Garbage {
    /// The value itself, back as a `C`.
    ///
    /// # Safety
    ///
    /// The garbage must hold a `C` (the slot held one) and no completion.
    #[cold]
    unsafe fn into_value<C: Cell>(self) -> C {
        let mut this = std::mem::ManuallyDrop::new(self);
        debug_assert!(this.completion.is_none());
        // SAFETY: the storage holds a `C` written by `Stored::write` (the
        // caller's contract), taken once: `this` is never dropped.
        unsafe { Stored::<C>::take(&mut this.storage) }
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        let completion = self.completion.take();
        // SAFETY: `storage` holds the value `discard` was made for, moved out
        // of its slot, and this is its only drop.
        unsafe { (self.discard)(&mut self.storage, completion) }
    }
}

/// The reactor's state, behind the `RefCell` of its handles.
pub(crate) struct Core {
    pub(crate) ring: Ring,
    /// Mixed into every `user_data`, so that a completion made up
    /// elsewhere cannot name a live slot.
    key: u64,
    pub(crate) slab: Slab,
    /// Slots the kernel still owes a last completion, the reactor's own
    /// included.
    pub(crate) in_flight: u32,
    /// Of those, the reactor's own.
    pub(crate) internal: u32,
    /// Completions read from the CQ and not yet handled, in order.
    pending: VecDeque<Cqe>,
    /// The slots of completions the kernel posted, up to a tail read
    /// earlier (tails only move on), from the head's on (see
    /// [`Cq::run_to`](crate::cqueue::Cq::run_to)): [`next_cqe`](Core::next_cqe)
    /// reads them without a look at the kernel's tail, moving `cq_next`
    /// and the head one on together. The run is emptied (`cq_end` set to
    /// `cq_next`) when completions move to `pending`, which moves the head
    /// too, so that the loop that reads the CQ stops and handles those
    /// first; [`refill`](Core::refill) starts the next from the head.
    cq_next: *const sys::io_uring_cqe,
    cq_end: *const sys::io_uring_cqe,
    /// Completions of multishot ops whose callback was running when they
    /// were read (by a shutdown from inside it), for it once it returns.
    held: VecDeque<(u32, Completion)>,
    groups: Vec<(u16, Rc<BufRing>)>,
    /// The registered buffers and the ring's handle of them, once
    /// registered: kept until unregistered, or for the ring's life.
    fixed: Option<(Rc<crate::reactor::fixed_buf::Table>, crate::FixedBuffers)>,
    /// Shut down: no op is accepted any more (set by `begin_shutdown`,
    /// which keeps `gate` in step).
    closed: bool,
    /// The task that submits and reaps for an outside runtime (set and
    /// taken through `set_driver` and `take_driver`, which keep `gate` in
    /// step).
    driver: Option<Waker>,
    /// That task is running: what is pushed meanwhile, it submits (set
    /// through `set_driving`, which keeps `gate` in step).
    driving: bool,
    /// Whether a push needs more than the fast path: `GATE_CLOSED` when
    /// the reactor has shut down, `GATE_DRIVER` when a driver that is not
    /// running may have to be woken. One look at it, rather than at each,
    /// lets a push by.
    pub(crate) gate: u8,
    /// The executor's queue of woken tasks, whose eventfd wakes a wait
    /// for completions.
    pub(crate) ready: Arc<ReadyQueue>,
    /// A poll on that eventfd is in flight.
    wakeup_armed: bool,
    /// The kernel ended that poll with an error (`EACCES` from a ring whose
    /// restrictions refuse `POLL_ADD`): it is not armed again, and waits
    /// that another thread must be able to end are bounded instead
    /// (`WAKE_POLL_REFUSED_WAIT`), rather than each ending at once on the
    /// poll's refusal.
    pub(crate) wakeup_refused: bool,
    /// A run loop is running.
    pub(crate) running: bool,
    /// The ring refused a cancel (`EACCES`: its restrictions forbid them),
    /// so a shutdown cannot end what is in flight: it leaks it instead.
    pub(crate) cancels_refused: bool,
}

/// A tag before the key is mixed in: the slot's index, and the low 32
/// bits of its generation above it.
#[inline(always)]
fn unmixed(index: u32, generation: u64) -> u64 {
    generation << 32 | u64::from(index)
}

/// Flipped in an op's tag, the `user_data` of the link timeout that bounds
/// it: the generation's low bit, set in every live op's (see
/// [`Core::deadline_ended`]).
const DEADLINE_TAG: u64 = 1 << 32;

/// [`Core::gate`]: the reactor has shut down.
pub(crate) const GATE_CLOSED: u8 = 1;
/// [`Core::gate`]: a driver is set and not running (a push may have to
/// wake it).
pub(crate) const GATE_DRIVER: u8 = 2;

fn closed() -> io::Error {
    io::Error::other("the reactor has shut down")
}

/// Ends `core`, a borrow of `cell` that may have pushed SQEs, then wakes
/// the driver that submits them (see [`Core::driver_to_wake`]).
#[inline(always)]
pub(crate) fn release(cell: &RefCell<Core>, core: RefMut<'_, Core>) {
    let driver = core.driver.is_some();
    // (With the driver running, `driver_to_wake` wakes nothing.)
    debug_assert_eq!(driver && !core.driving, core.gate & GATE_DRIVER != 0);
    drop(core);
    if driver {
        wake_driver(cell);
    }
}

#[cold]
#[inline(never)]
fn wake_driver(cell: &RefCell<Core>) {
    let driver = match cell.try_borrow_mut() {
        Ok(mut core) => core.driver_to_wake(),
        Err(_) => None,
    };
    if let Some(driver) = driver {
        driver.wake();
    }
}

impl Core {
    pub(crate) fn new(mut ring: Ring, ready: Arc<ReadyQueue>) -> io::Result<Core> {
        if ring.has_msg_targets() {
            // Another thread could post into the ring a completion that
            // carries the tag of an op in flight (see `RingTarget`).
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a RingTarget of the ring is alive: another thread could post into it",
            ));
        }
        if ring.sq.drain {
            // The kernel keeps its drain on after the drained op, and while
            // it is on, holds every new op until every request it allocated
            // is done: the reactor's own poll of its wake-up descriptor
            // never is, and every op after it would wait for ever.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the ring took an op flagged IO_DRAIN: its drain would hold the reactor's ops \
                 behind the reactor's own, which never end",
            ));
        }
        if ring.disabled {
            ring.enable()?;
        }
        // Every op of the reactor is pushed outside a scope: the ring is
        // marked so once, here, and the core pushes through its queue
        // directly rather than through `Ring::submission`, which marks it
        // at every call.
        ring.outside.set(true);
        let mut bytes = [0u8; 8];
        let key = sys::getrandom(&mut bytes)
            .ok()
            .map(|()| u64::from_ne_bytes(bytes))
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                t ^ (&t as *const u64 as u64).rotate_left(32) ^ u64::from(std::process::id())
            });
        // Completions a scope set aside in a copy of the CQ (see
        // `VirtualCq`) come first; the ring then reads the kernel's CQ
        // again, for good (only a scope, which the reactor never opens on
        // its ring, sets completions aside), so that the positions in the
        // CQ, `cq_next`'s included, keep one numbering.
        let mut pending = VecDeque::new();
        while ring.virtual_cq.is_some() {
            pending.extend(ring.completions());
            ring.leave_virtual_cq();
        }
        // An empty run, at the head.
        let (cq_next, _) = ring.cq.run_to(ring.cq.head());
        Ok(Core {
            ring,
            key,
            slab: Slab::new(),
            in_flight: 0,
            internal: 0,
            pending,
            cq_next,
            cq_end: cq_next,
            held: VecDeque::new(),
            groups: Vec::new(),
            fixed: None,
            closed: false,
            driver: None,
            driving: false,
            gate: 0,
            ready,
            wakeup_armed: false,
            wakeup_refused: false,
            cancels_refused: false,
            running: false,
        })
    }

    /// The `user_data` of slot `index` at `generation` (its low 32 bits).
    #[inline(always)]
    fn tag(&self, index: u32, generation: u64) -> u64 {
        self.key ^ unmixed(index, generation)
    }

    /// The slot and generation a `user_data` names, as [`tag`](Core::tag)
    /// made it (anything else names a slot no op holds, or none).
    #[inline(always)]
    fn untag(&self, user_data: u64) -> (u32, u32) {
        let x = user_data ^ self.key;
        (x as u32, (x >> 32) as u32)
    }

    /// The `user_data` of SQEs whose completions the reactor ignores
    /// (cancel requests): it names slot `NO_SLOT`, which no slab has.
    #[inline(always)]
    fn ignored(&self) -> u64 {
        self.key ^ u64::from(NO_SLOT)
    }

    /// Puts `value` in a free slot in `state` and pushes its op, bounded by
    /// a link timeout of `deadline` when there is one. The value comes back
    /// with the error when the op cannot be queued.
    #[inline]
    pub(crate) fn start<C: Cell>(
        &mut self,
        value: C,
        state: State,
        deadline: Option<Deadline>,
    ) -> Result<OpId, (io::Error, C)> {
        let index = match self.reserve() {
            Ok(index) => index,
            Err(e) => return Err((e, value)),
        };
        // SAFETY: `reserve` just handed out `index`.
        unsafe { self.launch(index, value, state, deadline) }.map_err(|(e, garbage)| {
            // SAFETY: the garbage holds the `C` just put in the slot.
            (e, unsafe { (*garbage).into_value::<C>() })
        })
    }

    /// A free slot for an op, or why none can be had: the reactor has shut
    /// down, or its index space is spent.
    #[inline(always)]
    pub(crate) fn reserve(&mut self) -> io::Result<u32> {
        if self.closed() {
            return Err(closed());
        }
        self.slab
            .alloc()
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))
    }

    /// Puts `value` in slot `index` in `state` and pushes its op, bounded
    /// by a link timeout of `deadline` when there is one. When the op
    /// cannot be queued, the slot is released and the value comes back out
    /// of it as (boxed) garbage, to drop once the core is no longer
    /// borrowed. (The value goes straight into the slot: handing it back
    /// by value would make every push copy it into the error's place
    /// first.)
    ///
    /// # Safety
    ///
    /// `index` must be a slot [`reserve`](Core::reserve) (or the slab's
    /// `alloc`) handed out, not used since.
    #[inline(always)]
    pub(crate) unsafe fn launch<C: Cell>(
        &mut self,
        index: u32,
        value: C,
        state: State,
        deadline: Option<Deadline>,
    ) -> Result<OpId, (io::Error, Box<Garbage>)> {
        // SAFETY: `reserve` handed it out (the caller's contract).
        let slot = unsafe { self.slab.held(index) };
        slot.generation = slot.generation.wrapping_add(1);
        slot.state = state;
        // A free slot is not multishot (`release` clears the flag): only
        // a multishot op sets it, which a one-shot op's push then skips.
        debug_assert!(!slot.multishot);
        if matches!(state, State::Stream | State::Multi) {
            slot.multishot = true;
        }
        slot.vtable = C::VTABLE;
        let generation = slot.generation;
        debug_assert_eq!(slot.fast, NO_FAST, "a free slot takes no fast path");
        if state == State::Callback {
            // The op's only completion may take the fast path (a first one
            // of two sets `fast` back; see `resolve`).
            slot.fast = unmixed(index, generation);
        }
        let storage = slot.storage.as_ptr();
        // SAFETY: a free slot holds no value.
        let cell = unsafe { Stored::<C>::write(storage, value) };
        let tag = self.tag(index, generation);
        // SAFETY: the value stays in the slot, unmoved (slots never move),
        // until the op's last completion releases it; nothing else uses it
        // while the SQE is built over it.
        let cell = unsafe { &mut *cell };
        let pushed = match deadline {
            None => self.push(cell.sqe(), tag, C::SELECTS_BUFFER),
            Some(_)
                if self.ring.refuses_sqe(LinkTimeout::CODE, 0)
                    || self.ring.refuses_sqe_flags(sys::IOSQE_IO_LINK) =>
            {
                // The kernel would refuse the link timeout, and with it the
                // op (`ECANCELED`, as if its deadline had passed): refused
                // here with the kernel's answer to a restricted SQE.
                Err(io::Error::from_raw_os_error(libc::EACCES))
            }
            Some(at) => {
                let sqe = cell.sqe();
                let timeout = LinkTimeout::new(at.at).timeout_flags(at.flags);
                let chain = Link::new(sqe, timeout, sys::IOSQE_IO_LINK);
                self.push(chain, tag, C::SELECTS_BUFFER)
            }
        };
        match pushed {
            Ok(group) => {
                if group.is_some() {
                    self.slab.slot(index).group = group;
                }
                self.in_flight += 1;
                Ok(OpId {
                    index,
                    generation,
                    ring: self.ring.id,
                })
            }
            // Nothing was pushed over the value: it leaves with the slot.
            Err(e) => Err((e, Box::new(self.take_garbage(index, None)))),
        }
    }

    /// Pushes a one-op submission (or an op and its link timeout) whose
    /// first SQE carries `tag`; returns the buffer group it selects from,
    /// which it may only if `may_select`.
    #[inline(always)]
    fn push<S: Submission>(
        &mut self,
        mut submission: S,
        tag: u64,
        may_select: bool,
    ) -> io::Result<Option<u16>> {
        if S::ZERO_COPY && self.ring.sq.drain {
            return Err(after_drain());
        }
        loop {
            let mut group = None;
            let mut first = true;
            let groups = &self.groups;
            let tag_sqe = |sqe: &mut sys::io_uring_sqe| {
                if first {
                    first = false;
                    sqe.user_data = tag;
                    // Every op posts its last completion: that is when
                    // the reactor releases its memory. And none drains: a
                    // drain would wait behind the reactor's own wake-up
                    // poll, which never ends, where no deadline cuts it
                    // (as `Reactor::from_ring` says of rings that took
                    // one). (Cleared only when set: an op's flags are
                    // most often known, and the store then goes.)
                    const BARRED: u8 = sys::IOSQE_CQE_SKIP_SUCCESS | sys::IOSQE_IO_DRAIN;
                    if sqe.flags & BARRED != 0 {
                        sqe.flags &= !BARRED;
                    }
                    if sqe.flags & sys::IOSQE_BUFFER_SELECT != 0 {
                        // SAFETY: both members of the union are a u16.
                        let selected = unsafe { sqe.buf.buf_group };
                        if may_select && groups.iter().any(|(g, _)| *g == selected) {
                            group = Some(selected);
                        } else {
                            // A group the reactor did not register (one
                            // the ring had before it, under a `BufRing`
                            // of the program's): its completion's buffer
                            // would be claimed from a ring registered
                            // under that group later. Or an op that says
                            // it selects none (`Op::SELECTS_BUFFER`),
                            // whose callback is handed no buffer. It
                            // fails with EINVAL instead.
                            crate::scope::refuse(sqe, libc::EINVAL);
                        }
                    }
                } else {
                    // A link timeout: the op's tag with the generation's
                    // low bit cleared (live generations are odd), which
                    // names no op and leads back to the slot when the
                    // timeout fires but misses the op (see
                    // `deadline_ended`).
                    sqe.user_data = tag ^ DEADLINE_TAG;
                }
            };
            let mut sq = SubmissionQueue::new(&mut self.ring.sq);
            // SAFETY: the submission's memory is owned by a slot value, which
            // the reactor keeps until the op's last completion (or `'static`
            // memory, or ring-owned timespecs); its descriptors are held by
            // the value. The tagging leaves every SQE valid.
            let pushed = unsafe { sq.push_unchecked_then(submission, tag_sqe) };
            drop(sq);
            match pushed {
                Ok(()) => {
                    // The driver (if any) is woken once the core is
                    // released: see `driver_to_wake`.
                    return Ok(group);
                }
                // An op with a deadline is a chain, which a ring whose SQ
                // thread is shared takes not: no room would change that.
                Err(refused) if !refused.is_full() => {
                    return Err(crate::Error::PushRefused(refused.kind()).into());
                }
                Err(full) => {
                    submission = full.into_inner();
                    self.make_room(S::SQES)?;
                }
            }
        }
    }

    /// The waker of the task that submits for an outside runtime, taken
    /// when SQEs wait for it: wake it once the core is no longer
    /// borrowed. A waker is the program's code, which may panic or use
    /// the reactor; the core never runs it while it is borrowed, and so
    /// never with its state half updated.
    #[inline(always)]
    pub(crate) fn driver_to_wake(&mut self) -> Option<Waker> {
        if self.driver.is_some() && !self.driving && self.unsubmitted() {
            self.take_driver()
        } else {
            None
        }
    }

    /// Whether the reactor has shut down.
    #[inline(always)]
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    /// The driver's waker, if one is set.
    #[cfg(feature = "tokio")]
    pub(crate) fn driver(&self) -> Option<&Waker> {
        self.driver.as_ref()
    }

    /// Sets the driver's waker; returns the one it replaces.
    #[cfg(feature = "tokio")]
    pub(crate) fn set_driver(&mut self, waker: Waker) -> Option<Waker> {
        let old = self.driver.replace(waker);
        self.update_gate();
        old
    }

    /// Takes the driver's waker.
    pub(crate) fn take_driver(&mut self) -> Option<Waker> {
        let driver = self.driver.take();
        self.update_gate();
        driver
    }

    /// Marks the driver running, or not.
    #[cfg(feature = "tokio")]
    pub(crate) fn set_driving(&mut self, driving: bool) {
        self.driving = driving;
        self.update_gate();
    }

    /// Sets `gate` from what it stands for.
    fn update_gate(&mut self) {
        let closed = if self.closed { GATE_CLOSED } else { 0 };
        let driver = if self.driver.is_some() && !self.driving {
            GATE_DRIVER
        } else {
            0
        };
        self.gate = closed | driver;
    }

    /// Pushes the reactor's own single SQE (a cancel request, a poll).
    fn push_own<S: Submission>(&mut self, submission: S, user_data: u64) -> io::Result<()> {
        let () = One::<S>::CHECK;
        let mut submission = submission;
        loop {
            let mut sq = SubmissionQueue::new(&mut self.ring.sq);
            // SAFETY: the reactor's own ops point to no memory but ring-owned
            // timespecs, and name descriptors the core keeps open.
            let pushed =
                unsafe { sq.push_unchecked_then(submission, |sqe| sqe.user_data = user_data) };
            drop(sq);
            match pushed {
                Ok(()) => return Ok(()),
                Err(full) => {
                    submission = full.into_inner();
                    self.make_room(1)?;
                }
            }
        }
    }

    /// Makes room for `need` SQEs: submits what is queued, moving
    /// completions out of a full CQ when the kernel asks for room.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self, need: u32) -> io::Result<()> {
        let entries = self.ring.sq_entries();
        if need > entries {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the op needs {need} SQEs, and the ring's SQ has {entries}"),
            ));
        }
        let mut stalls = 0;
        loop {
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if transient(&e) => self.drain_cq(),
                Err(e) => return Err(e.into()),
            }
            if self.ring.space_left() >= need {
                return Ok(());
            }
            // An SQ thread consumes in its own time.
            self.ring.wait_for_sq_space()?;
            if self.ring.space_left() >= need {
                return Ok(());
            }
            self.drain_cq();
            stalls += 1;
            if stalls > 1000 {
                return Err(io::Error::other(
                    "the kernel takes no submissions from this ring",
                ));
            }
        }
    }

    /// Moves every completion of the CQ to the pending queue, freeing the
    /// kernel's CQ; [`next_cqe`](Core::next_cqe) then reads nothing until
    /// [`refill`](Core::refill) has seen them handled.
    pub(crate) fn drain_cq(&mut self) {
        self.pending.extend(self.ring.completions());
        self.cq_end = self.cq_next;
    }

    /// Whether completions moved out of a full CQ wait to be handled: they
    /// come before the CQ's.
    #[cfg(test)]
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The oldest completion moved out of a full CQ.
    pub(crate) fn pop_pending(&mut self) -> Option<Cqe> {
        self.pending.pop_front()
    }

    /// The next completion of the CQ, read in place, if one is posted
    /// before the tail seen last; else [`refill`](Core::refill) looks
    /// further.
    #[inline(always)]
    pub(crate) fn next_cqe(&mut self) -> Option<Cqe> {
        let at = self.cq_next;
        if at != self.cq_end {
            let cq = &mut self.ring.cq;
            debug_assert_eq!(
                at,
                cq.run_to(cq.head().wrapping_add(1)).0,
                "the CQ's head moved without the run"
            );
            // SAFETY: `at` is in the run `refill` found posted, at the
            // head's slot: the head moves on with `cq_next`, here, and
            // elsewhere only in `drain_cq`, which empties the run.
            let cqe = unsafe { cq.read_at(at) };
            // SAFETY: `at` is before `cq_end`, in the array: one on is in
            // it or one past its end.
            self.cq_next = unsafe { at.add(1) };
            // Only our copy of the head moves: the kernel is handed the
            // batch's slots back at once, by `refill` at its end (and by
            // any wait before, which publishes the head first).
            cq.set_head_unpublished(cq.head().wrapping_add(1));
            return Some(cqe);
        }
        None
    }

    /// Once [`next_cqe`](Core::next_cqe) has read up to the tail seen
    /// last: whether completions moved out of the CQ wait (they come
    /// first), or the kernel posted more (the tail is read again, and
    /// the completions it holds back, in an overflow list or as flagged
    /// task work, are flushed when it posted none); or, once the reap's
    /// `budget` of completions is spent, nothing more. The completions
    /// handed out are taken from the budget: one moved out of the CQ, or a
    /// run of slots, cut to what is left of it. What was read goes back to
    /// the kernel in each case. Out of line, so that the completion read
    /// in place stays in registers.
    #[cold]
    #[inline(never)]
    pub(crate) fn refill(&mut self, budget: &mut u32) -> Refill {
        // What `next_cqe` read goes back to the kernel.
        self.ring.cq.publish_head();
        if *budget == 0 {
            return Refill::Later;
        }
        if !self.pending.is_empty() {
            *budget -= 1;
            return Refill::Pending;
        }
        let tail = self.ring.ready_tail();
        // (A run stops at the array's end: one that wraps comes back
        // here for its rest.)
        let (next, end) = self.ring.cq.run_to(tail);
        // SAFETY: both point into the CQ's array, `next <= end` (`run_to`).
        let run = unsafe { end.offset_from(next) } as usize;
        let taken = run.min(*budget as usize);
        *budget -= taken as u32;
        self.cq_next = next;
        // SAFETY: `taken <= run`: at most `end`, in the array or one past.
        self.cq_end = unsafe { next.add(taken) };
        if taken != 0 {
            Refill::Posted
        } else {
            Refill::Empty
        }
    }

    /// Whether completions wait to be handled.
    pub(crate) fn has_completions(&mut self) -> bool {
        !self.pending.is_empty() || self.ring.ready() > 0
    }

    /// The common case of [`resolve`](Core::resolve), first: the only
    /// completion of a one-shot op with a callback, which selected no
    /// buffer. Its slot is released and the call is returned; `None` for
    /// any other completion, which `resolve` then routes.
    #[inline(always)]
    pub(crate) fn resolve_call(&mut self, cqe: &Cqe) -> Option<Call> {
        let unmixed = cqe.user_data() ^ self.key;
        let index = unmixed as u32;
        let flags = cqe.flags();
        let slot = self.slab.get_mut(index)?;
        // `fast` is the unmixed tag of the slot's op while it is a one-shot
        // op with a callback whose only completion is to come, and names
        // no slot otherwise: a stale or made-up tag, a slot in any other
        // state, or a last completion after a first go the slow way. (The
        // flags, in a register already, come before the slot.)
        if flags & (sys::IORING_CQE_F_MORE | sys::IORING_CQE_F_BUFFER) != 0 || slot.fast != unmixed
        {
            return None;
        }
        debug_assert!(
            slot.state == State::Callback
                && !slot.has_first
                && slot.generation as u32 == (unmixed >> 32) as u32
        );
        let call = Call {
            call: slot.vtable.call,
            storage: slot.storage.as_ptr(),
            res: cqe.res(),
            flags,
        };
        // The slot goes back on the free list now: the call takes the
        // value out of the storage before it runs anything, so the
        // callback may queue its next op into this very slot.
        // SAFETY: `get_mut` found the slot in the slab.
        unsafe { self.slab.release_callback(index) };
        self.in_flight -= 1;
        Some(call)
    }

    /// Routes a completion to its slot; what is left to do is returned, to
    /// be done once the core is no longer borrowed.
    #[inline]
    pub(crate) fn resolve(&mut self, cqe: Cqe) -> Action {
        let (index, generation) = self.untag(cqe.user_data());
        let Some(slot) = self.slab.get_mut(index) else {
            if cqe.res() == -libc::EACCES && cqe.user_data() == self.ignored() {
                // A cancel request (or a link timeout) the ring's
                // restrictions forbid.
                self.cancels_refused = true;
            }
            return Action::None;
        };
        if slot.generation as u32 != generation || generation & 1 == 0 {
            if generation & 1 == 0 && cqe.flags() == 0 {
                self.deadline_ended(index, generation, cqe.res());
            }
            return Action::None;
        }
        let flags = cqe.flags();
        let more = flags & sys::IORING_CQE_F_MORE != 0;
        let mut completion = Completion::new(cqe.res(), flags);
        if flags & sys::IORING_CQE_F_BUFFER != 0
            && let Some(group) = slot.group
            && let Some((_, ring)) = self.groups.iter().find(|(g, _)| *g == group)
        {
            // SAFETY: the completion carries a live slot's tag, which only
            // the kernel can have posted (the key is secret, the ring's
            // descriptor never leaves the reactor), for an op that selected
            // from `group` on this ring, whose buffer ring is `ring`.
            completion.buf = unsafe { RingBuf::claim(ring, &cqe) };
        }
        let storage = self.slab.storage(index);
        let slot = self.slab.slot(index);
        match slot.state {
            State::Orphan if slot.multishot => {
                // The items of a dropped stream are made and dropped, so
                // that what they own (an accepted socket) is released.
                let each = slot.vtable.each;
                // SAFETY: the slot holds the stream's value, which nothing
                // else uses while the core is borrowed.
                let made = catch_item(|| unsafe { each(storage, completion) });
                let garbage = if more {
                    None
                } else {
                    self.in_flight -= 1;
                    Some(Box::new(self.take_garbage(index, None)))
                };
                match (made, garbage) {
                    (Ok(()), None) => Action::None,
                    (Ok(()), Some(garbage)) => Action::Discard(garbage),
                    (Err(panic), garbage) => Action::Panicked(Box::new(Panicked {
                        panic,
                        waker: None,
                        garbage,
                    })),
                }
            }
            State::Callback | State::Waiting | State::Orphan if more => {
                // A one-shot op that completes twice (a zero-copy send):
                // its result is the first completion, its memory is the
                // kernel's until the last.
                if !slot.has_first {
                    slot.has_first = true;
                    // The last completion goes the slow way, which hands
                    // the callback this one's result.
                    slot.fast = NO_FAST;
                    slot.res = completion.res;
                    slot.flags = completion.flags;
                    slot.buf = completion.buf;
                }
                Action::None
            }
            State::Callback => {
                if slot.has_first {
                    completion.res = slot.res;
                    completion.flags = slot.flags;
                    completion.buf = slot.buf.take();
                }
                let call = slot.vtable.call;
                // Released before the call, which takes the value first
                // (see `resolve_call`).
                // SAFETY: `get_mut` found the slot in the slab.
                unsafe { self.slab.release_callback(index) };
                self.in_flight -= 1;
                Action::Call {
                    call,
                    storage,
                    completion,
                }
            }
            State::Waiting => {
                if !slot.has_first {
                    slot.res = completion.res;
                    slot.flags = completion.flags;
                    slot.buf = completion.buf;
                }
                slot.state = State::Ready;
                self.in_flight -= 1;
                match slot.waker.take() {
                    Some(waker) => Action::Wake(waker),
                    None => Action::None,
                }
            }
            State::Orphan => {
                if slot.has_first {
                    completion.res = slot.res;
                    completion.flags = slot.flags;
                    completion.buf = slot.buf.take();
                }
                self.in_flight -= 1;
                Action::Discard(Box::new(self.take_garbage(index, Some(completion))))
            }
            State::Multi => {
                // At the last completion the kernel is done with the op: its
                // id cancels nothing from inside the callback either.
                slot.state = if more {
                    State::Running
                } else {
                    State::RunningLast
                };
                if !more {
                    self.in_flight -= 1;
                }
                Action::Each {
                    each: slot.vtable.each,
                    storage,
                    completion,
                    index,
                    last: !more,
                }
            }
            State::Running => {
                // A nested run (a shutdown from inside the callback)
                // reached this slot while its callback runs: the completion
                // is handed to it once it returns.
                if !more {
                    slot.state = State::RunningLast;
                    self.in_flight -= 1;
                }
                self.held.push_back((index, completion));
                Action::None
            }
            State::Panicked => {
                if !more {
                    slot.state = State::RunningLast;
                    self.in_flight -= 1;
                }
                Action::None
            }
            State::Stream => {
                // Settled first: the item is the op's code, which may panic.
                if !more {
                    slot.state = State::StreamDone;
                    self.in_flight -= 1;
                }
                let each = slot.vtable.each;
                // SAFETY: a stream slot holds the value its table was made
                // for; the item is queued in it while the core is borrowed,
                // so nothing else uses it.
                let made = catch_item(|| unsafe { each(storage, completion) });
                let waker = self.slab.slot(index).waker.take();
                match (made, waker) {
                    (Ok(()), Some(waker)) => Action::Wake(waker),
                    (Ok(()), None) => Action::None,
                    // The reader is woken all the same: the stream may have
                    // ended.
                    (Err(panic), waker) => Action::Panicked(Box::new(Panicked {
                        panic,
                        waker,
                        garbage: None,
                    })),
                }
            }
            State::Internal => {
                let mut word = 0u64;
                // SAFETY: reads 8 bytes into `word` from the executor's own
                // non-blocking eventfd.
                let _ = unsafe {
                    libc::read(
                        self.ready.eventfd.as_raw_fd(),
                        (&mut word as *mut u64).cast(),
                        8,
                    )
                };
                if !more {
                    self.wakeup_armed = false;
                    if completion.res < 0 && completion.res != -libc::ECANCELED {
                        self.wakeup_refused = true;
                    }
                    self.in_flight -= 1;
                    self.internal -= 1;
                    self.slab.release(index);
                }
                Action::None
            }
            State::Free | State::Ready | State::RunningLast | State::StreamDone => Action::None,
        }
    }

    /// Moves the value out of slot `index` and releases the slot.
    fn take_garbage(&mut self, index: u32, completion: Option<Completion>) -> Garbage {
        let storage = self.slab.storage(index);
        let garbage = Garbage {
            discard: self.slab.slot(index).vtable.discard,
            // SAFETY: the slot holds a value; it is moved out here, and the
            // slot is released right after, so it is not used again.
            storage: unsafe { std::ptr::read(storage) },
            completion,
        };
        self.slab.release(index);
        garbage
    }

    /// After a multishot callback ran: a completion that arrived meanwhile,
    /// for the callback to run again; else back to waiting, or, after the
    /// last completion, the value to drop.
    pub(crate) fn finish_each(&mut self, index: u32, last: bool) -> Finish {
        if !self.held.is_empty()
            && let Some(at) = self.held.iter().position(|(i, _)| *i == index)
            && let Some((_, completion)) = self.held.remove(at)
        {
            return Finish::Again(completion);
        }
        let slot = self.slab.slot(index);
        if last || slot.state == State::RunningLast {
            Finish::Done(Some(self.take_garbage(index, None)))
        } else {
            slot.state = State::Multi;
            Finish::Done(None)
        }
    }

    /// After a multishot callback panicked (at the op's last completion
    /// if `last`): its slot drops its completions from now on, and its
    /// value stays, leaked; an op the kernel still runs is cancelled, so
    /// that it stops taking what nobody will see (a receive would go on
    /// swallowing bytes) and the reactor's runs can end. Returns the
    /// completions held for it, to drop once the core is released.
    pub(crate) fn abandon_each(&mut self, index: u32, last: bool) -> Vec<Completion> {
        let slot = self.slab.slot(index);
        if last {
            // The kernel is done with the op: nothing more will come.
            slot.state = State::RunningLast;
        } else if slot.state == State::Running {
            slot.state = State::Panicked;
            let generation = slot.generation;
            // A refused cancel (a closed ring, restrictions) leaves the op
            // as it was: its completions are dropped all the same.
            let _ = self.cancel_slot(index, generation);
        }
        let mut dropped = Vec::new();
        let mut at = 0;
        while at < self.held.len() {
            if self.held[at].0 == index {
                if let Some((_, completion)) = self.held.remove(at) {
                    dropped.push(completion);
                }
            } else {
                at += 1;
            }
        }
        dropped
    }

    /// The completion of a link timeout that bounded the op of slot
    /// `index` at generation `generation + 1` (its tag with the low bit of
    /// the generation cleared), or of nothing the reactor pushed. `-ETIME`:
    /// it fired and cancelled the op; `-ECANCELED`: the op completed
    /// first. Any other result says the timeout fired but its cancel
    /// missed the op: Linux arms a link timeout as soon as its op's first
    /// issue returns, and a timeout that fires (one already due, say)
    /// before the op is armed for a poll, or while its retry waits as
    /// task work, finds it nowhere (`-ENOENT`), and the op would run on
    /// without its deadline. The op is cancelled again, once: by now it
    /// waits where a cancel finds it. `-EACCES`: the ring's restrictions
    /// forbid link timeouts, as a refused cancel request says.
    #[cold]
    #[inline(never)]
    fn deadline_ended(&mut self, index: u32, generation: u32, res: i32) {
        if res == -libc::ETIME || res == -libc::ECANCELED {
            return;
        }
        if res == -libc::EACCES {
            self.cancels_refused = true;
            return;
        }
        let Some(slot) = self.slab.get_mut(index) else {
            return;
        };
        if slot.generation as u32 != generation.wrapping_add(1) {
            return;
        }
        let generation = slot.generation;
        let _ = self.cancel_slot(index, generation);
    }

    /// Queues a cancel request for the op `id` if it is in flight; returns
    /// whether it was.
    pub(crate) fn cancel(&mut self, id: OpId) -> io::Result<bool> {
        if id.ring != self.ring.id {
            return Ok(false);
        }
        self.cancel_slot(id.index, id.generation)
    }

    /// Queues a cancel request for the op in slot `index` if it is in
    /// flight under `generation`; returns whether it was.
    fn cancel_slot(&mut self, index: u32, generation: u64) -> io::Result<bool> {
        let Some(slot) = self.slab.get_mut(index) else {
            return Ok(false);
        };
        if slot.generation != generation || generation & 1 == 0 {
            return Ok(false);
        }
        // The program's ops the kernel still has (the wake-up poll is the
        // reactor's own).
        if !slot.state.in_kernel() || slot.state == State::Internal {
            return Ok(false);
        }
        if self.closed() {
            return Ok(false);
        }
        if self.ring.refuses_sqe(Cancel::CODE, 0) {
            // The kernel would refuse the request (`EACCES`) into a
            // completion nobody sees, and the op would go on: its answer,
            // here.
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        let target = self.tag(index, generation);
        let ignored = self.ignored();
        self.push_own(Cancel::new(target), ignored)?;
        Ok(true)
    }

    /// Makes a future's or stream's slot an orphan (its memory is dropped
    /// at the op's last completion) and, with `cancel`, cancels its op.
    /// Returns what to drop once the core is released: the value, if the
    /// kernel is done with it, and the waker the slot held.
    pub(crate) fn orphan(&mut self, index: u32, cancel: bool) -> (Option<Garbage>, Option<Waker>) {
        let slot = self.slab.slot(index);
        match slot.state {
            // The op's result goes with it, so that what the kernel made
            // for it (an accepted socket, a buffer) is released too.
            State::Ready => {
                let completion = ready_completion(slot);
                (Some(self.take_garbage(index, Some(completion))), None)
            }
            State::StreamDone => (Some(self.take_garbage(index, None)), None),
            State::Waiting | State::Stream => {
                slot.state = State::Orphan;
                let waker = slot.waker.take();
                let generation = slot.generation;
                if cancel {
                    let _ = self.cancel_slot(index, generation);
                }
                (None, waker)
            }
            _ => (None, None),
        }
    }

    /// Registers a provided-buffer ring the reactor keeps for its life.
    pub(crate) fn register_buf_ring(
        &mut self,
        group: BufferGroup,
        count: u16,
        len: u32,
    ) -> io::Result<BufGroup> {
        if self.closed() {
            return Err(closed());
        }
        if self.groups.iter().any(|(g, _)| *g == group.id()) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("buffer group {} is registered already", group.id()),
            ));
        }
        let ring = self.ring.register_buf_ring(group, count, len)?;
        self.groups.push((group.id(), Rc::new(ring)));
        Ok(BufGroup { group, len })
    }

    pub(crate) fn register_buffers(
        &mut self,
        count: u16,
        len: usize,
    ) -> io::Result<crate::reactor::FixedBufPool> {
        use crate::reactor::fixed_buf::Table;
        if self.closed() {
            return Err(closed());
        }
        if self.fixed.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the reactor's ring has its registered buffers already",
            ));
        }
        let table = Rc::new(Table::new(count, len)?);
        // SAFETY: the iovecs cover the table's mapping, which the core keeps
        // (with every buffer lent out and the pool) for the ring's life. The
        // kernel reaches registered buffers through the pages it pinned
        // here, never through these addresses: were the mapping gone while
        // an op still ran, what it wrote would land in pages no mapping of
        // the program holds any more, and no later one gets them before the
        // kernel lets go of them.
        let handle = unsafe { self.ring.register_buffers(&table.iovecs()) }?;
        self.fixed = Some((Rc::clone(&table), handle));
        Ok(crate::reactor::FixedBufPool::new(table))
    }

    /// Unregisters the table of `pool` once nothing else holds it (see
    /// [`Handle::unregister_buffers`](crate::reactor::Handle::unregister_buffers)).
    pub(crate) fn unregister_buffers(
        &mut self,
        pool: crate::reactor::FixedBufPool,
    ) -> Result<(), (io::Error, crate::reactor::FixedBufPool)> {
        let refuse = |kind, why: &str, pool| Err((io::Error::new(kind, why.to_owned()), pool));
        let Some((table, _)) = &self.fixed else {
            return refuse(
                io::ErrorKind::NotFound,
                "the reactor's ring has no registered buffers",
                pool,
            );
        };
        if !Rc::ptr_eq(table, pool.table()) {
            return refuse(
                io::ErrorKind::InvalidInput,
                "the pool's buffers are another reactor's",
                pool,
            );
        }
        // The core's reference and the pool's: no other clone of the pool,
        // no buffer lent out, and so no op in flight over one (an op owns
        // its buffer until its last completion).
        if Rc::strong_count(table) != 2 {
            return refuse(
                io::ErrorKind::ResourceBusy,
                "buffers of the pool are lent out, or the pool has other handles",
                pool,
            );
        }
        let Some((table, handle)) = self.fixed.take() else {
            unreachable!("checked above")
        };
        match self.ring.unregister_buffers(handle) {
            Ok(()) => {
                // No op and no program value reaches the memory any more:
                // it goes with the last two references.
                drop(table);
                drop(pool);
                Ok(())
            }
            Err(e) => {
                self.fixed = Some((table, e.handle));
                Err((e.error.into(), pool))
            }
        }
    }

    /// Whether SQEs were pushed that the kernel has not consumed (read
    /// from the queue itself, rather than noted at every push).
    pub(crate) fn unsubmitted(&mut self) -> bool {
        self.ring.pending() > 0
    }

    /// Submits what was pushed, without waiting.
    pub(crate) fn submit(&mut self) -> io::Result<()> {
        if !self.unsubmitted() && !self.ring.sq.cq_needs_flush() {
            return Ok(());
        }
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if transient(&e) => {
                    self.drain_cq();
                    if e.raw_os_error() != Some(libc::EINTR) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Submits what was pushed and waits for a completion, unless some
    /// are ready already.
    pub(crate) fn submit_and_wait(&mut self) -> io::Result<()> {
        if self.has_completions() {
            return self.submit();
        }
        match self.ring.submit_and_wait(1) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                self.drain_cq();
                Ok(())
            }
            Err(e) if transient(&e) => {
                self.wait_after_refusal(REFUSED_SUBMIT_WAIT);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// After a submission the kernel refused without waiting (`EAGAIN`: it
    /// could not allocate a request, for as long as the memory pressure
    /// lasts; `EBUSY`: it holds completions back): reads the CQ, then waits
    /// up to `timeout` for a completion without submitting, or sleeps that
    /// long should that wait fail too, so that a refusal that lasts does
    /// not make the loops that call this spin.
    #[cold]
    fn wait_after_refusal(&mut self, timeout: Duration) {
        self.drain_cq();
        if self.has_completions() {
            return;
        }
        match self.ring.wait_timeout(1, timeout) {
            Ok(()) | Err(Error::TimedOut) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(_) => std::thread::sleep(timeout),
        }
    }

    /// Arms a poll on the executor's eventfd, so that a wake from another
    /// thread ends a wait for completions.
    pub(crate) fn arm_wakeup(&mut self) -> io::Result<()> {
        if self.wakeup_armed || self.wakeup_refused || self.closed() {
            return Ok(());
        }
        let ready = Arc::clone(&self.ready);
        // The poll names the eventfd, which `ready` keeps open: the core
        // holds it until every op has completed.
        let poll = PollAdd::new(&ready.eventfd, PollEvents::IN).poll_flags(PollFlags::MULTI);
        let Some(index) = self.slab.alloc() else {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        };
        let slot = self.slab.slot(index);
        slot.generation = slot.generation.wrapping_add(1);
        slot.state = State::Internal;
        let generation = slot.generation;
        let tag = self.tag(index, generation);
        if let Err(e) = self.push_own(poll, tag) {
            self.slab.release(index);
            return Err(e);
        }
        self.in_flight += 1;
        self.internal += 1;
        self.wakeup_armed = true;
        Ok(())
    }

    /// Starts shutting down: no new op is accepted, and every op in
    /// flight is cancelled.
    pub(crate) fn begin_shutdown(&mut self) {
        self.closed = true;
        self.update_gate();
        self.cancel_each();
    }

    /// Queues a cancel request for each op in flight, by its tag. (One
    /// request that cancels any op would do, but the kernel looks for
    /// each match from the start of its tables again, among requests it
    /// cancelled already and has not yet removed: 20 000 receives took
    /// 6.9 s that way, and 10^5 locked the CPU up. A tag is found by its
    /// hash.)
    fn cancel_each(&mut self) {
        let ignored = self.ignored();
        for index in self.slab.indices() {
            let Some(slot) = self.slab.get_mut(index) else {
                continue;
            };
            if !slot.state.in_kernel() {
                continue;
            }
            let generation = slot.generation;
            let target = self.tag(index, generation);
            if self.push_own(Cancel::new(target), ignored).is_err() {
                return;
            }
        }
    }

    /// Cancels every op still in flight again, during a shutdown. A few
    /// are cancelled at once, without the SQ
    /// (`IORING_REGISTER_SYNC_CANCEL`, 6.0), where a cancel request could
    /// wait behind an op queued with `IO_DRAIN`; many, by their tags.
    pub(crate) fn cancel_again(&mut self) {
        if self.in_flight == 0 {
            return;
        }
        if self.in_flight > 64 {
            self.cancel_each();
            return;
        }
        let any = SyncCancel::any().all();
        match self.ring.cancel_sync(any, Some(Duration::ZERO)) {
            Ok(()) | Err(Error::TimedOut) => {}
            Err(e) => {
                if e.raw_os_error() == Some(libc::EACCES) {
                    self.cancels_refused = true;
                }
                let ignored = self.ignored();
                let all = Cancel::new(0).cancel_flags(CancelFlags::ANY);
                let _ = self.push_own(all, ignored);
            }
        }
    }

    /// Waits for a completion with a timeout, for the shutdown's waits.
    pub(crate) fn wait_a_while(&mut self, timeout: Duration) -> io::Result<()> {
        if self.has_completions() {
            return Ok(());
        }
        match self.ring.submit_and_wait_timeout(1, timeout) {
            Ok(_) | Err(Error::TimedOut) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                self.drain_cq();
                Ok(())
            }
            Err(e) if transient(&e) => {
                self.wait_after_refusal(timeout);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Ops in flight that are the program's.
    pub(crate) fn user_in_flight(&self) -> u32 {
        self.in_flight - self.internal
    }
}

/// The error of a zero-copy send on a ring that took an op flagged
/// `IO_DRAIN`, whose drain could hold the send forever (see
/// [`PushErrorKind::AfterDrain`](crate::PushErrorKind::AfterDrain)), as a
/// scope's refusal converts.
#[cold]
fn after_drain() -> io::Error {
    Error::PushRefused(crate::PushErrorKind::AfterDrain).into()
}

/// Errors of a submit that go away once the CQ has room, or by retrying.
/// How long a run waits for completions, submitting nothing, after the
/// kernel refused a submission (see `Core::wait_after_refusal`) before it
/// submits again.
const REFUSED_SUBMIT_WAIT: Duration = Duration::from_millis(10);

fn transient(e: &Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBUSY) | Some(libc::EAGAIN) | Some(libc::EINTR)
    )
}

impl Drop for Core {
    fn drop(&mut self) {
        // Ops the shutdown could not wait for (the ring failed) may still
        // be in the kernel, which may outlive this descriptor (a buffer ring
        // holds a duplicate), and part of what they use lives in the slots'
        // storage itself: a receive's source address and the message header
        // the kernel writes back. The storage is then leaked with them,
        // never freed under the kernel. The slots' states are the ground
        // truth (the count is looked at too, should a state ever lag behind
        // it), and the decision comes before any value is dropped: a drop is
        // the program's code, which may panic.
        let held = self.slab.indices().any(|index| {
            self.slab
                .get(index)
                .is_some_and(|slot| slot.state.in_kernel())
        });
        if self.in_flight != 0 || held {
            self.slab.leak_storage();
        }
        // Values the kernel is done with and nobody took are dropped. Any
        // other slot keeps its value: an op the reactor could not wait for
        // may still use it (a leak, never a use after free), and a callback
        // that panicked took its value already.
        for index in self.slab.indices() {
            let storage = self.slab.storage(index);
            let slot = self.slab.slot(index);
            if matches!(slot.state, State::Ready | State::StreamDone) {
                let discard = slot.vtable.discard;
                let completion = (slot.state == State::Ready).then(|| ready_completion(slot));
                slot.state = State::Free;
                // SAFETY: a ready future's or finished stream's slot holds its
                // value, which the kernel is done with; it is dropped once
                // (leaked storage stays allocated), with its op's result.
                unsafe { discard(storage, completion) };
            }
        }
    }
}

/// The completion a ready future's slot keeps for its future.
pub(crate) fn ready_completion(slot: &mut crate::reactor::slab::Slot) -> Completion {
    Completion {
        res: slot.res,
        flags: slot.flags,
        buf: slot.buf.take(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::cell::CallbackCell;
    use crate::reactor::ops::Nop;

    fn cqe(user_data: u64, res: i32, flags: u32) -> Cqe {
        Cqe::from(sys::io_uring_cqe {
            user_data,
            res,
            flags,
        })
    }

    /// Starts a NOP whose callback expects the result `res`; returns its
    /// id and its tag.
    fn start_nop(core: &mut Core, res: u32) -> (OpId, u64) {
        let cell = CallbackCell {
            op: Nop,
            f: move |r: io::Result<u32>, ()| assert_eq!(r.unwrap(), res),
        };
        let Ok(id) = core.start(cell, State::Callback, None) else {
            panic!("a NOP fits the ring");
        };
        (id, core.tag(id.index, id.generation))
    }

    /// A slot used 2^31 times comes back to the same low 32 bits of its
    /// generation, which its tags carry: an `OpId` of the first op still
    /// names no op of the slot, and cancels nothing.
    #[test]
    fn a_stale_id_names_no_op_after_its_slot_went_round_the_tag_s_generations() {
        let ready = Arc::new(ReadyQueue::new().unwrap());
        let mut core = Core::new(Ring::new(8).unwrap(), ready).unwrap();
        let (stale, tag) = start_nop(&mut core, 0);
        let call = core.resolve_call(&cqe(tag, 0, 0)).expect("the fast path");
        // SAFETY: the slot held the cell `start` wrote; this takes it once.
        unsafe { (call.call)(call.storage, call.res, call.flags, None) };
        // As if the slot had been used 2^31 times since.
        core.slab.slot(stale.index).generation = stale.generation + (1 << 32) - 1;
        let (live, live_tag) = start_nop(&mut core, 0);
        assert_eq!(live.index, stale.index);
        assert_eq!(live.generation as u32, stale.generation as u32);
        assert_eq!(live_tag, tag, "the tags are the same");
        assert_ne!(live, stale);
        let pending = core.ring.pending();
        assert!(!core.cancel(stale).unwrap(), "the stale id cancels nothing");
        assert_eq!(core.ring.pending(), pending, "no cancel request was pushed");
        assert!(core.cancel(live).unwrap());
    }

    #[test]
    fn only_the_only_completion_of_a_live_callback_op_takes_the_fast_path() {
        let ready = Arc::new(ReadyQueue::new().unwrap());
        let mut core = Core::new(Ring::new(8).unwrap(), ready).unwrap();
        let (id, live) = start_nop(&mut core, 7);
        // An earlier op's tag for the same slot (generations of live ops
        // are odd), a first completion with more to come (a zero-copy
        // send's), one that names a provided buffer: none is called here.
        let stale = core.tag(id.index, id.generation.wrapping_sub(2));
        assert!(core.resolve_call(&cqe(stale, 7, 0)).is_none());
        assert!(
            core.resolve_call(&cqe(live, 7, sys::IORING_CQE_F_MORE))
                .is_none()
        );
        assert!(
            core.resolve_call(&cqe(live, 7, sys::IORING_CQE_F_BUFFER))
                .is_none()
        );
        assert_eq!(core.slab.slot(id.index).state, State::Callback);
        assert_eq!(core.in_flight, 1);
        let call = core.resolve_call(&cqe(live, 7, 0)).expect("the fast path");
        assert_eq!((call.res, call.flags), (7, 0));
        assert_eq!(call.storage, core.slab.storage(id.index));
        // The slot is free again, under a new generation, before the call.
        let slot = core.slab.slot(id.index);
        assert_eq!(slot.state, State::Free);
        assert_eq!(slot.generation, id.generation.wrapping_add(1));
        assert_eq!(core.in_flight, 0);
        // Called once, as the reap loop does: the tag names no live op
        // any more, so the same completion again is not.
        assert!(core.resolve_call(&cqe(live, 7, 0)).is_none());
        assert!(matches!(core.resolve(cqe(live, 7, 0)), Action::None));
        // SAFETY: the slot held the cell `start` wrote; this takes it once.
        unsafe { (call.call)(call.storage, call.res, call.flags, None) };

        // An op that completes twice: its last completion goes the slow
        // way, which hands the callback the first one's result.
        let (id, live) = start_nop(&mut core, 9);
        let first = cqe(live, 9, sys::IORING_CQE_F_MORE);
        assert!(core.resolve_call(&first).is_none());
        assert!(matches!(core.resolve(first), Action::None));
        let last = cqe(live, 0, sys::IORING_CQE_F_NOTIF);
        assert!(core.resolve_call(&last).is_none());
        let Action::Call {
            call,
            storage,
            completion,
        } = core.resolve(last)
        else {
            panic!("the last completion runs the callback");
        };
        assert_eq!(completion.res, 9);
        assert_eq!(storage, core.slab.storage(id.index));
        assert_eq!(core.slab.slot(id.index).state, State::Free);
        assert!(!core.slab.slot(id.index).has_first);
        assert_eq!(core.in_flight, 0);
        // SAFETY: as above.
        unsafe { call(storage, completion.res, completion.flags, completion.buf) };
    }

    /// A link timeout that fired but missed its op (`-ENOENT`: the op sat
    /// in task work between its first issue and its poll) has the op
    /// cancelled again, once; one that cancelled it (`-ETIME`), one
    /// cancelled with it (`-ECANCELED`), and one of an op that has
    /// completed since cancel nothing.
    #[test]
    fn a_deadline_that_missed_its_op_cancels_it_again() {
        let ready = Arc::new(ReadyQueue::new().unwrap());
        let mut core = Core::new(Ring::new(8).unwrap(), ready).unwrap();
        let cell = CallbackCell {
            op: Nop,
            f: |r: io::Result<u32>, ()| assert!(r.is_ok()),
        };
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        let Ok(id) = core.start(cell, State::Callback, Some(Deadline::new(far))) else {
            panic!("a NOP and its link timeout fit the ring");
        };
        let tag = core.tag(id.index, id.generation);
        assert_eq!(core.ring.pending(), 2, "the op and its link timeout");
        let timeout = tag ^ DEADLINE_TAG;
        for res in [-libc::ETIME, -libc::ECANCELED] {
            assert!(matches!(core.resolve(cqe(timeout, res, 0)), Action::None));
            assert_eq!(core.ring.pending(), 2, "{res}: nothing more pushed");
        }
        assert!(matches!(
            core.resolve(cqe(timeout, -libc::ENOENT, 0)),
            Action::None
        ));
        assert_eq!(core.ring.pending(), 3, "a cancel request was pushed");
        assert_eq!(core.slab.slot(id.index).state, State::Callback);
        // The op completes; a late report of its timeout cancels nothing.
        let call = core.resolve_call(&cqe(tag, 0, 0)).expect("the fast path");
        // SAFETY: the slot held the cell `start` wrote; this takes it once.
        unsafe { (call.call)(call.storage, call.res, call.flags, None) };
        assert!(matches!(
            core.resolve(cqe(timeout, -libc::ENOENT, 0)),
            Action::None
        ));
        assert_eq!(core.ring.pending(), 3);
        assert_eq!(core.in_flight, 0);
    }

    #[test]
    fn a_core_dropped_with_ops_in_flight_keeps_their_storage() {
        use crate::reactor::SharedFd;
        use crate::reactor::ops::Recv;
        use crate::reactor::slab::chunks_freed;

        let ready = Arc::new(ReadyQueue::new().unwrap());
        // A receive that waits for bytes nobody sends, in the kernel when
        // the core goes (as after a shutdown whose waits failed).
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = SharedFd::new(a);
        let mut core = Core::new(Ring::new(8).unwrap(), ready.clone()).unwrap();
        let cell = CallbackCell {
            op: Recv::new(&fd, vec![0u8; 16]),
            f: |_: io::Result<u32>, _: Vec<u8>| panic!("the receive never completes"),
        };
        assert!(core.start(cell, State::Callback, None).is_ok());
        core.ring.submit().unwrap();
        assert_eq!(core.in_flight, 1);
        let before = chunks_freed();
        drop(core);
        assert_eq!(chunks_freed(), before, "storage freed under the kernel");

        // A core whose ops have all completed frees its storage.
        let mut core = Core::new(Ring::new(8).unwrap(), ready).unwrap();
        let (_, live) = start_nop(&mut core, 0);
        let call = core.resolve_call(&cqe(live, 0, 0)).expect("the fast path");
        // SAFETY: the slot held the cell `start` wrote; this takes it once.
        unsafe { (call.call)(call.storage, call.res, call.flags, None) };
        assert_eq!(core.in_flight, 0);
        let before = chunks_freed();
        drop(core);
        assert_eq!(chunks_freed(), before + 1);
    }

    /// A ring given with completions a scope set aside (in a copy of the
    /// CQ) has them moved out at once, ahead of the kernel's CQ, which the
    /// core then reads in place: each completion once, in order.
    #[test]
    fn completions_set_aside_by_a_scope_come_first_and_once() {
        let mut ring = Ring::new(8).unwrap();
        let nops = |ring: &mut Ring, from: u64| {
            for n in from..from + 3 {
                // SAFETY: a NOP points to no memory.
                unsafe { ring.push_unchecked(crate::ops::Nop::new().user_data(n)) }.unwrap();
            }
            ring.submit_and_wait(3).unwrap();
        };
        nops(&mut ring, 0);
        ring.enter_virtual_cq();
        assert!(ring.virtual_cq.is_some());
        nops(&mut ring, 3);
        let ready = Arc::new(ReadyQueue::new().unwrap());
        let mut core = Core::new(ring, ready).unwrap();
        assert!(core.ring.virtual_cq.is_none(), "the copy was left");
        let mut seen = Vec::new();
        let mut budget = u32::MAX;
        loop {
            if let Some(cqe) = core.next_cqe() {
                seen.push(cqe.user_data());
                continue;
            }
            match core.refill(&mut budget) {
                Refill::Pending => seen.push(core.pop_pending().unwrap().user_data()),
                Refill::Posted => {}
                Refill::Empty | Refill::Later => break,
            }
        }
        assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
    }
}
