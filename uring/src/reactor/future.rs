//! Ops awaited as futures, multishot ops read as streams.

use crate::reactor::Shared;
use crate::reactor::cell::{FutureCell, StreamCell};
use crate::reactor::core::{OpId, release};
use crate::reactor::op::{Completion, MultishotOp, Op, result};
use crate::reactor::slab::{State, Stored};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// An op in flight, awaited: resolves to its result and its
/// [`Output`](Op::Output) (the buffer back, for a read or a write).
///
/// The op's memory lives in the reactor, not in the future: dropping the
/// future before the op completes cancels the op, and the reactor drops
/// its memory only at the op's last completion. The cancel goes to the
/// kernel with the drop (a timeout's waits for the reactor's next
/// submit): on a ring without an SQ thread, a read, receive or accept
/// waiting on a socket or pipe takes nothing that arrives after the drop
/// (one an io-wq worker is running may still complete, and its result
/// is dropped with it). Forgetting the future
/// leaks the reactor's shared state with it, which the future holds (an
/// `Rc`): the ring, the op's memory and descriptor, every other op's slot.
/// Dropping the reactor still cancels and waits for the op, but nothing
/// of that state is freed, and no descriptor in it is closed.
///
/// Polled again after it resolved, it stays pending and never wakes (its
/// output is handed out once): a `select!` loop must not poll a finished
/// future again.
#[must_use = "an op's future does nothing unless awaited; dropping it cancels the op"]
pub struct OpFuture<O: Op> {
    shared: Rc<Shared>,
    state: FutureState<O>,
}

enum FutureState<O> {
    InFlight(OpId),
    /// The op was never queued (the reactor had shut down).
    Failed(io::Error, O),
    Done,
}

// The op is never pinned: it lives in the reactor's slab or, before it is
// queued, moves freely.
impl<O: Op> Unpin for OpFuture<O> {}

impl<O: Op> OpFuture<O> {
    pub(crate) fn new(
        shared: Rc<Shared>,
        op: O,
        deadline: Option<crate::reactor::core::Deadline>,
    ) -> Self {
        let mut core = shared.core.borrow_mut();
        let started = core.start(FutureCell(op), State::Waiting, deadline);
        release(&shared.core, core);
        let state = match started {
            Ok(id) => FutureState::InFlight(id),
            Err((e, FutureCell(op))) => FutureState::Failed(e, op),
        };
        OpFuture { shared, state }
    }

    /// The op's id, for [`Handle::cancel`](crate::reactor::Handle::cancel);
    /// `None` once the future has resolved, or if the op was never queued.
    /// Between the op's last completion and the future's resolving, the id
    /// is still given, and cancels nothing.
    pub fn id(&self) -> Option<OpId> {
        match self.state {
            FutureState::InFlight(id) => Some(id),
            _ => None,
        }
    }

    /// Lets the op run to its end without anyone awaiting it: unlike a
    /// drop, no cancel; the reactor drops its memory at its last
    /// completion (or cancels it when it shuts down).
    pub fn detach(mut self) {
        if let FutureState::InFlight(id) = self.state {
            self.state = FutureState::Done;
            orphan(&self.shared, id, false, false);
        }
    }
}

impl<O: Op> Future for OpFuture<O> {
    type Output = (io::Result<u32>, O::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let id = match &this.state {
            FutureState::InFlight(id) => *id,
            FutureState::Failed(..) => {
                let FutureState::Failed(e, op) =
                    std::mem::replace(&mut this.state, FutureState::Done)
                else {
                    unreachable!()
                };
                let res = -e.raw_os_error().unwrap_or(libc::ECANCELED);
                return Poll::Ready((Err(e), op.complete(Completion::new(res, 0))));
            }
            // Polled again after completing: nothing more will come.
            FutureState::Done => return Poll::Pending,
        };
        let mut core = this.shared.core.borrow_mut();
        if let Some(done) = take_ready::<O>(&mut core, id) {
            drop(core);
            this.state = FutureState::Done;
            return Poll::Ready(done.finish());
        }
        if matches!(&core.slab.slot(id.index).waker, Some(w) if w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        // The waker is cloned, and the one it replaces dropped, with the
        // core released: either may run the program's code, which may use
        // the reactor (and even complete the op meanwhile).
        drop(core);
        let waker = cx.waker().clone();
        let mut core = this.shared.core.borrow_mut();
        if let Some(done) = take_ready::<O>(&mut core, id) {
            drop(core);
            this.state = FutureState::Done;
            return Poll::Ready(done.finish());
        }
        let old = core.slab.slot(id.index).waker.replace(waker);
        drop(core);
        drop(old);
        Poll::Pending
    }
}

/// A future's op the kernel is done with, out of its slot.
struct Done<O> {
    op: O,
    completion: Completion,
}

impl<O: Op> Done<O> {
    /// Runs the op's [`complete`](Op::complete): the program's code, run
    /// with the core released.
    fn finish(self) -> (io::Result<u32>, O::Output) {
        let result = result(self.completion.res);
        (result, self.op.complete(self.completion))
    }
}

/// Takes a future's op out of its slot `id` once the op has completed,
/// releasing the slot.
#[inline(always)]
fn take_ready<O: Op>(core: &mut crate::reactor::core::Core, id: OpId) -> Option<Done<O>> {
    let storage = core.slab.storage(id.index);
    let slot = core.slab.slot(id.index);
    if slot.state != State::Ready {
        return None;
    }
    let completion = crate::reactor::core::ready_completion(slot);
    // SAFETY: a future's slot holds its op, and a ready one is the kernel's
    // no more; it is taken once (the future is then done), and the slot
    // released.
    let FutureCell(op) = unsafe { Stored::<FutureCell<O>>::take(storage) };
    core.slab.release(id.index);
    Some(Done { op, completion })
}

/// Leaves the op `id` of a dropped future or stream to the reactor, which
/// cancels it (`cancel`) and drops its memory at its last completion.
/// With `at_once`, the cancel goes to the kernel now rather than at the
/// reactor's next submit: on a ring without an SQ thread the kernel then
/// takes the op off what it waits for before the drop returns, so that a
/// read or an accept waiting on a socket or pipe takes nothing that comes
/// after (one an io-wq worker is running may still complete). What the
/// slot gives back (its value, if the kernel is done with it, and its
/// waker) is dropped with the core released. If the core is in use (a
/// drop from inside the reactor's own code), the op is left as it is:
/// leaked, never freed early.
fn orphan(shared: &Shared, id: OpId, cancel: bool, at_once: bool) {
    let orphaned = match shared.core.try_borrow_mut() {
        Ok(mut core) => {
            let orphaned = core.orphan(id.index, cancel);
            if cancel && at_once {
                // A ring that fails to take the request fails the
                // reactor's next submit, which reports it (as for
                // `Handle::cancel`).
                let _ = core.submit();
            }
            release(&shared.core, core);
            orphaned
        }
        Err(_) => (None, None),
    };
    drop(orphaned);
}

impl<O: Op> Drop for OpFuture<O> {
    fn drop(&mut self) {
        if let FutureState::InFlight(id) = self.state {
            orphan(&self.shared, id, true, O::CANCEL_AT_ONCE);
        }
    }
}

impl<O: Op> fmt::Debug for OpFuture<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpFuture")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// A multishot op read as a stream: each completion yields an item, until
/// the op's last completion.
///
/// [`next`](OpStream::next) awaits the next item; [`poll_next`](OpStream::poll_next)
/// is the poll form. Dropping the stream cancels the op; items not read
/// are dropped (an accepted descriptor is closed, a buffer goes back to
/// its ring).
#[must_use = "a stream does nothing unless read; dropping it cancels the op"]
pub struct OpStream<O: MultishotOp> {
    shared: Rc<Shared>,
    state: StreamState<O>,
}

enum StreamState<O> {
    InFlight(OpId),
    Failed(Option<io::Error>, O),
    Done,
}

impl<O: MultishotOp> Unpin for OpStream<O> {}

impl<O: MultishotOp> OpStream<O> {
    pub(crate) fn new(shared: Rc<Shared>, op: O) -> Self {
        let cell = StreamCell {
            op,
            items: Default::default(),
        };
        let mut core = shared.core.borrow_mut();
        let started = core.start(cell, State::Stream, None);
        release(&shared.core, core);
        let state = match started {
            Ok(id) => StreamState::InFlight(id),
            Err((e, cell)) => StreamState::Failed(Some(e), cell.op),
        };
        OpStream { shared, state }
    }

    /// The op's id, for [`Handle::cancel`](crate::reactor::Handle::cancel):
    /// a cancelled stream yields what arrived before, then ends.
    pub fn id(&self) -> Option<OpId> {
        match self.state {
            StreamState::InFlight(id) => Some(id),
            _ => None,
        }
    }

    /// The next item: `Ready(Some(item))`, `Ready(None)` once the op's last
    /// completion has been read (the kernel may end a multishot op at any
    /// item, a full CQ among the reasons: see [`Handle::stream`](crate::reactor::Handle::stream)),
    /// or `Pending` (and a wake-up later).
    ///
    /// A stream whose op could not be queued yields `Err` through
    /// [`failure`](OpStream::failure) and ends.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<O::Item>> {
        let id = match &mut self.state {
            StreamState::InFlight(id) => *id,
            StreamState::Failed(..) | StreamState::Done => return Poll::Ready(None),
        };
        let mut core = self.shared.core.borrow_mut();
        let storage = core.slab.storage(id.index);
        // SAFETY: a stream's slot holds its `StreamCell`; the core is
        // borrowed, so nothing else uses it.
        let cell = unsafe { &mut *Stored::<StreamCell<O>>::get(storage) };
        if let Some(item) = cell.items.pop_front() {
            return Poll::Ready(Some(item));
        }
        let slot = core.slab.slot(id.index);
        if slot.state == State::StreamDone {
            // SAFETY: as above; the kernel is done with the op, whose value
            // is taken once, and the slot released.
            let cell = unsafe { Stored::<StreamCell<O>>::take(storage) };
            core.slab.release(id.index);
            drop(core);
            self.state = StreamState::Done;
            drop(cell);
            return Poll::Ready(None);
        }
        if matches!(&slot.waker, Some(w) if w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        // As for a future: the waker is cloned, and the old one dropped,
        // with the core released, and the stream looked at again after.
        drop(core);
        let waker = cx.waker().clone();
        let mut core = self.shared.core.borrow_mut();
        let storage = core.slab.storage(id.index);
        // SAFETY: as above.
        let cell = unsafe { &*Stored::<StreamCell<O>>::get(storage) };
        let slot = core.slab.slot(id.index);
        if !cell.items.is_empty() || slot.state == State::StreamDone {
            drop(core);
            waker.wake();
            return Poll::Pending;
        }
        let old = slot.waker.replace(waker);
        drop(core);
        drop(old);
        Poll::Pending
    }

    /// Awaits the next item; `None` once the stream has ended.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Next<'_, O> {
        Next { stream: self }
    }

    /// Why the op was never queued (the reactor had shut down), once.
    pub fn failure(&mut self) -> Option<io::Error> {
        match &mut self.state {
            StreamState::Failed(e, _) => e.take(),
            _ => None,
        }
    }
}

impl<O: MultishotOp> Drop for OpStream<O> {
    fn drop(&mut self) {
        if let StreamState::InFlight(id) = self.state {
            orphan(&self.shared, id, true, true);
        }
    }
}

impl<O: MultishotOp> fmt::Debug for OpStream<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpStream")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// The future of [`OpStream::next`].
#[must_use = "futures do nothing unless awaited"]
pub struct Next<'a, O: MultishotOp> {
    stream: &'a mut OpStream<O>,
}

impl<O: MultishotOp> Future for Next<'_, O> {
    type Output = Option<O::Item>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().stream.poll_next(cx)
    }
}

impl<O: MultishotOp> fmt::Debug for Next<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}
