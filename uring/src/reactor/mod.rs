//! The event loop: a [`Reactor`] owns a ring and the memory of every op in
//! flight on it, and hands each completion to what waits for it — a
//! callback, a future, or a stream.
//!
//! An op given to the reactor owns its memory ([`IoBuf`] / [`IoBufMut`]
//! buffers, addresses, a [`SharedFd`]): the reactor keeps it in a slab,
//! unmoved, from the op's submission to its last completion, and hands it
//! back with the result. Each SQE's `user_data` names its slot and the
//! slot's generation (mixed with a secret key), so that a completion that
//! names no live op — a stale one, or one made up elsewhere — is ignored,
//! and a stale [`OpId`] never cancels a later op.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use uring::reactor::{Reactor, ops::Nop};
//!
//! # fn main() -> std::io::Result<()> {
//! let reactor = Reactor::new()?;
//! let handle = reactor.handle();
//! let done = Rc::new(Cell::new(0));
//! // A callback that queues another op from inside itself.
//! let d = done.clone();
//! reactor.queue(Nop, move |result, ()| {
//!     assert_eq!(result.unwrap(), 0);
//!     d.set(d.get() + 1);
//!     let d = d.clone();
//!     handle.queue(Nop, move |_, ()| d.set(d.get() + 1)).unwrap();
//! })?;
//! reactor.run()?;
//! assert_eq!(done.get(), 2);
//!
//! // The same op, awaited.
//! let (result, ()) = reactor.run_until(reactor.op(Nop))?;
//! assert_eq!(result?, 0);
//! # Ok(())
//! # }
//! ```
//!
//! The reactor stands on the [`Ring`] as any program would: it pushes
//! through the ring's queue API and reads its completions, and it never
//! lends out the ring, its descriptor, or a way to push an SQE with a
//! `user_data` of the caller's choosing.

mod blocking;
mod buf;
mod cell;
mod core;
mod current;
mod exec;
mod fd;
mod fixed_buf;
mod future;
mod join;
mod op;
pub mod ops;
mod remote;
mod ring_buf;
mod slab;
#[cfg(feature = "tokio")]
mod tokio;

pub use self::buf::{IoBuf, IoBufMut, Slice, SliceMut};
pub(crate) use self::buf::{read_exact, write_all};
pub use self::core::OpId;
pub use self::current::EnterGuard;
pub use self::fd::SharedFd;
pub use self::fixed_buf::{FixedBufPool, FixedBuffer, FixedIoBuf};
pub use self::future::{Next, OpFuture, OpStream};
pub use self::join::{JoinError, JoinHandle, RemoteJoinHandle};
pub use self::op::{Completion, MultishotEnded, MultishotOp, Op};
pub use self::remote::{Remote, RemoteOpId};
pub use self::ring_buf::{BufGroup, RingBuf};
#[cfg(feature = "tokio")]
pub use self::tokio::TokioDriver;

use self::cell::{CallbackCell, MultiCell};
use self::core::{Action, Core, Finish, Panicked, Refill, release};
use self::exec::{Executor, MAIN, ReadyQueue, TaskWaker};
use self::slab::State;
use crate::ring::Ring;
use crate::types::BufferGroup;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What a reactor's handles share.
pub(crate) struct Shared {
    pub(crate) core: RefCell<Core>,
    exec: Executor,
}

/// An event loop over one ring, on one thread: go-uring's reactor.
///
/// Ops are queued with a callback ([`queue`](Handle::queue)), with a
/// deadline ([`queue_with_deadline`](Handle::queue_with_deadline)), as a
/// future ([`op`](Handle::op)) or, when multishot, as a stream
/// ([`stream`](Handle::stream)) or with a callback per completion
/// ([`queue_multishot`](Handle::queue_multishot)). [`run`](Reactor::run)
/// and [`run_until`](Reactor::run_until) drive the ring on the current
/// thread, with tasks spawned by [`spawn`](Handle::spawn); with the `tokio`
/// feature, `Reactor::into_tokio` lets a tokio runtime drive
/// it instead.
///
/// The number of ops in flight is bounded by memory, not by the ring: a
/// full submission queue is submitted and pushed again, a full completion
/// queue is read into the reactor.
///
/// The reactor dereferences to its [`Handle`]; handles are cheap to clone
/// and are what callbacks and tasks keep. Dropping the reactor shuts it
/// down: every op in flight is cancelled and waited for (callbacks run,
/// futures resolve, with the ops' results), then the tasks are dropped.
/// On a ring that fails, or whose restrictions refuse cancel requests,
/// what is still in flight is leaked instead (its memory is never freed),
/// rather than waited for without end.
pub struct Reactor {
    handle: Handle,
}

/// A handle to a [`Reactor`]: queues ops, cancels them, spawns tasks.
/// Cloning it is cheap; it does not keep the reactor from shutting down.
/// A handle kept after its reactor shut down refuses every op, and keeps
/// the reactor's state, its ring (descriptor and mappings) and wake-up
/// eventfd included, until the last handle goes.
#[derive(Clone)]
pub struct Handle {
    shared: Rc<Shared>,
}

/// The CQ entries of [`Reactor::new`]'s ring: room for bursts of
/// completions, and the size at which the kernel gives its table of
/// polled requests (receives, accepts waiting for data) the most buckets,
/// which keeps cancelling each of many such requests (at shutdown) short.
const CQ_ENTRIES: u32 = 8192;

/// How long a run waits at most for completions on a ring that refused the
/// poll of its wake-up eventfd (restrictions without `POLL_ADD`): what other
/// threads wake or send is seen within this.
const WAKE_POLL_REFUSED_WAIT: Duration = Duration::from_millis(10);

impl Reactor {
    /// A reactor over a new ring of 256 SQ entries and 8192 CQ entries
    /// (a shutdown with 10^5 receives in flight takes about a second with
    /// it, against 13 s with the default CQ of 512), set up for one thread
    /// (`single_issuer`, `coop_taskrun`, `taskrun_flag`: completions' task
    /// work runs when the thread next enters the kernel, without an
    /// interrupt per completion), which suits both [`run`](Reactor::run)
    /// and a tokio runtime (`Reactor::into_tokio`). On a
    /// kernel without those flags (before 6.0), a plain ring, and one with
    /// the default CQ where the larger one does not fit the locked-memory
    /// limit (kernels before 5.12 count a ring's memory against it).
    pub fn new() -> io::Result<Reactor> {
        let ring = match Reactor::ring_builder().build(256) {
            Ok(ring) => ring,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOMEM)) => {
                Ring::new(256)?
            }
            Err(e) => return Err(e.into()),
        };
        Reactor::from_ring(ring)
    }

    /// The setup [`new`](Reactor::new) gives its ring (8192 CQ entries,
    /// `single_issuer`, `coop_taskrun`, `taskrun_flag`), for rings made
    /// otherwise, such as those of [`Ring::create_many`] (add
    /// [`r_disabled`](crate::Builder::r_disabled) when a ring is created on
    /// another thread than the one its reactor runs on). Not for an SQPOLL
    /// ring: the kernel refuses `coop_taskrun` and `taskrun_flag` beside
    /// `sqpoll` (the build is an [`Error::Setup`](crate::Error::Setup));
    /// start such a ring from [`Ring::builder`].
    pub fn ring_builder() -> crate::Builder<'static> {
        Ring::builder()
            .cq_entries(CQ_ENTRIES)
            .single_issuer()
            .coop_taskrun()
            .taskrun_flag()
    }

    /// A reactor over `ring`, which it owns from now on (the rings of
    /// [`Ring::create_many`], one per thread, share their worker pools).
    /// A ring created disabled ([`Builder::r_disabled`](crate::Builder::r_disabled))
    /// is enabled here, on the thread that will submit to it.
    ///
    /// A ring driven by tokio (`Reactor::into_tokio`) must be
    /// created without `defer_taskrun`: tokio waits in epoll, and deferred
    /// work runs only in a wait on the ring itself. `coop_taskrun` (with
    /// `single_issuer`, and `r_disabled` for a ring created on another
    /// thread) is what it should have: the kernel then runs completions'
    /// work when the thread next enters it (an `epoll_wait` included,
    /// which it wakes) instead of interrupting the thread for each.
    ///
    /// Fails with `InvalidInput` while a [`RingTarget`](crate::RingTarget)
    /// of the ring lives (another thread could post into it), dropping the
    /// ring; [`Remote`] reaches a reactor from other threads. Fails the same
    /// on a ring that took an op flagged `IO_DRAIN`: the kernel keeps its
    /// drain on after the drained op, and while it is on holds every new op
    /// until every request it allocated is done, which the reactor's own
    /// long-lived poll of its wake-up descriptor never is.
    ///
    /// On a ring whose restrictions
    /// ([`register_restrictions`](Ring::register_restrictions)) refuse
    /// what the reactor pushes of its own, it works on with less:
    /// - without `POLL_ADD` (the poll of its wake-up eventfd), a run waits
    ///   at most 10 ms at a time while other threads may wake a task or
    ///   send work, and sees what they did within that;
    /// - without `LINK_TIMEOUT`, an op queued with a deadline is refused
    ///   with `EACCES` (on a ring restricted elsewhere, whose rules the
    ///   ring does not know, it fails at once, unrun, with `ECANCELED`,
    ///   the kernel's answer to an op whose link timeout it refuses, as
    ///   if its deadline had passed);
    /// - without `ASYNC_CANCEL`, [`cancel`](Handle::cancel) is an `EACCES`
    ///   error, and a shutdown leaks what is in flight rather than free
    ///   memory the kernel may still use.
    ///
    /// The ring is one of 64-byte SQEs and 16-byte CQEs (`Ring`'s
    /// defaults): a reactor reads no 32-byte or mixed CQ.
    pub fn from_ring(ring: Ring) -> io::Result<Reactor> {
        let ready = Arc::new(ReadyQueue::new()?);
        let core = Core::new(ring, Arc::clone(&ready))?;
        Ok(Reactor {
            handle: Handle {
                shared: Rc::new(Shared {
                    core: RefCell::new(core),
                    exec: Executor::new(ready),
                }),
            },
        })
    }

    /// A handle to the reactor.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Drives the ring until no task is left, no op is in flight and no
    /// [`Remote`] is alive (or the reactor has shut down): submits, waits
    /// for completions, runs callbacks, tasks and what remotes send.
    /// go-uring's `Run`.
    ///
    /// An error is the ring's own (a failed `io_uring_enter`), a run
    /// started from inside another, or a run of a reactor that has shut
    /// down already ([`Handle::shutdown`]).
    pub fn run(&self) -> io::Result<()> {
        self.handle
            .shared
            .drive(&self.handle, None::<std::future::Pending<()>>)?;
        Ok(())
    }

    /// Drives the ring, as [`run`](Reactor::run), until `future` resolves,
    /// and returns its output; tasks and ops still pending stay.
    ///
    /// Only this reactor's ops make progress meanwhile: a future of an op
    /// queued on another reactor of this thread completes only when that
    /// reactor is run, so awaiting it here waits until something else
    /// wakes the future (another thread, through its waker).
    pub fn run_until<F: Future>(&self, future: F) -> io::Result<F::Output> {
        match self.handle.shared.drive(&self.handle, Some(future))? {
            Some(output) => Ok(output),
            None => unreachable!("a run with a future returns its output"),
        }
    }
}

/// Spawns `task` on the thread's current reactor ([`Handle::current`]),
/// as [`Handle::spawn`] does: from a task or a callback, it needs no
/// handle passed down. `NotFound` where no reactor is current.
///
/// ```
/// use uring::reactor::{self, Reactor};
///
/// # fn main() -> std::io::Result<()> {
/// let reactor = Reactor::new()?;
/// let sum = reactor.run_until(async {
///     let a = reactor::spawn(async { 20 })?;
///     let b = reactor::spawn(async { 22 })?;
///     Ok::<_, std::io::Error>(a.await.unwrap() + b.await.unwrap())
/// })??;
/// assert_eq!(sum, 42);
/// assert!(reactor::spawn(async {}).is_err());
/// # Ok(())
/// # }
/// ```
pub fn spawn<F>(task: F) -> io::Result<JoinHandle<F::Output>>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Ok(Handle::current()?.spawn(task))
}

impl std::ops::Deref for Reactor {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.handle, f)
    }
}

impl Handle {
    /// Queues `op`; `callback` runs with its result and its output once
    /// the op's last completion has been read (go-uring's `Queue`).
    ///
    /// The callback may queue more ops. The op reaches the kernel at the
    /// reactor's next submission; a full submission queue is submitted to
    /// make room, never an error. An error when the reactor has shut down
    /// or its ring fails to submit (the op and the callback are dropped
    /// then, the kernel having never seen the op).
    #[inline]
    pub fn queue<O, F>(&self, op: O, callback: F) -> io::Result<OpId>
    where
        O: Op,
        F: FnOnce(io::Result<u32>, O::Output) + 'static,
    {
        self.start(CallbackCell { op, f: callback }, State::Callback, None)
    }

    /// [`queue`](Handle::queue), with a deadline: a link timeout after the
    /// op cancels it if it has not completed by `deadline`, a point in time
    /// (an absolute timeout on `CLOCK_MONOTONIC`, the clock of `Instant`:
    /// it holds however late the reactor submits the op; inside a time
    /// namespace that offsets that clock, which kernels before the fix
    /// leave out of absolute timeouts, the time left when the op is
    /// queued, counted from the submit). The op then
    /// completes with the kernel's answer for a cancelled op (`ECANCELED`;
    /// `EINTR` for some), or its own result if it finished first.
    ///
    /// Linux 6.15 and later arm a link timeout only once its op's first
    /// issue returns. Ops the kernel always runs in an io-wq worker
    /// (`statx`, `mkdirat`, `unlinkat`, `renameat`, `fsync`, `fallocate`,
    /// opens that create) are issued first in the worker, so they run to
    /// their end however long they wait for one, and an op that blocks
    /// inside a worker (an open of a FIFO with `O_CREAT`, a call into a
    /// stalled file system) runs on past its deadline: the timeout then
    /// finds nothing to cancel. Ops that wait by polling (sockets, pipes)
    /// and reads moved to a worker after a try that would block are held to
    /// it; [`cancel`] and the reactor's shutdown reach any op.
    ///
    /// The op and its link timeout are pushed together: on a ring of one
    /// SQ entry, which cannot hold both, this is an error of kind
    /// [`io::ErrorKind::InvalidInput`] (the op and the callback dropped).
    /// On a ring whose restrictions, registered through it, refuse link
    /// timeouts (or the `IO_LINK` flag an op needs to carry one), it is an
    /// `EACCES` error: the kernel would fail the op unrun.
    ///
    /// [`cancel`]: Handle::cancel
    pub fn queue_with_deadline<O, F>(
        &self,
        op: O,
        deadline: Instant,
        callback: F,
    ) -> io::Result<OpId>
    where
        O: Op,
        F: FnOnce(io::Result<u32>, O::Output) + 'static,
    {
        self.start(
            CallbackCell { op, f: callback },
            State::Callback,
            Some(self::core::Deadline::new(deadline)),
        )
    }

    /// Queues a multishot op; `callback` runs with each item, the last one
    /// from the op's last completion. The calls come one at a time, in
    /// the kernel's order: items that arrive while the callback runs (a
    /// shutdown from inside it reads them) come once it has returned.
    ///
    /// The kernel ends a multishot op when its completion queue is full,
    /// at a completion that carries an item (an accepted connection, a
    /// received buffer, poll events) rather than an error: the callback
    /// then runs once more, with an error of kind `Interrupted`
    /// ([`MultishotEnded`]), so that it knows to queue the op again (see
    /// [`MultishotOp::ended`]). The last call of each of the library's
    /// multishot ops is thus an error or, for a receive, the end of the
    /// stream.
    pub fn queue_multishot<O, F>(&self, op: O, callback: F) -> io::Result<OpId>
    where
        O: MultishotOp,
        F: FnMut(O::Item) + 'static,
    {
        self.start(MultiCell { op, f: callback }, State::Multi, None)
    }

    #[inline(always)]
    fn start<C: cell::Cell>(
        &self,
        cell: C,
        state: State,
        deadline: Option<self::core::Deadline>,
    ) -> io::Result<OpId> {
        let mut core = self.shared.core.borrow_mut();
        // Anything but a free slot behind a clear gate goes the slow way,
        // which borrows the core again (the value is not dropped here).
        let index = if core.gate == 0 {
            core.slab.alloc()
        } else {
            None
        };
        let Some(index) = index else {
            drop(core);
            return self.start_gated(cell, state, deadline.as_ref());
        };
        // SAFETY: `alloc` just handed out `index`.
        match unsafe { core.launch(index, cell, state, deadline) } {
            // The gate was clear, and nothing sets it while the core is
            // borrowed: there is no driver to wake.
            Ok(id) => Ok(id),
            Err((e, garbage)) => {
                drop(core);
                // Dropped once the core is no longer borrowed.
                drop(garbage);
                Err(e)
            }
        }
    }

    /// [`start`](Handle::start) past a gate: on a reactor that has shut
    /// down, with a driver that may have to be woken, or with no slot
    /// free.
    #[cold]
    #[inline(never)]
    fn start_gated<C: cell::Cell>(
        &self,
        cell: C,
        state: State,
        deadline: Option<&self::core::Deadline>,
    ) -> io::Result<OpId> {
        let deadline = deadline.copied();
        let mut core = self.shared.core.borrow_mut();
        // An early return drops `core`, a local, before `cell`, an
        // argument: the value is dropped with the core unborrowed.
        let index = core.reserve()?;
        // SAFETY: `reserve` just handed out `index`.
        match unsafe { core.launch(index, cell, state, deadline) } {
            Ok(id) => {
                release(&self.shared.core, core);
                Ok(id)
            }
            Err((e, garbage)) => {
                release(&self.shared.core, core);
                // Dropped once the core is no longer borrowed.
                drop(garbage);
                Err(e)
            }
        }
    }

    /// As [`start`](Handle::start), but the value comes back with the error
    /// when the op cannot be queued (to be used once the core is released).
    fn start_or_return<C: cell::Cell>(
        &self,
        cell: C,
        deadline: Option<self::core::Deadline>,
    ) -> Result<OpId, (io::Error, C)> {
        let mut core = self.shared.core.borrow_mut();
        let started = core.start(cell, State::Callback, deadline);
        release(&self.shared.core, core);
        started
    }

    /// Queues `op` and returns a future of its result and output.
    pub fn op<O: Op>(&self, op: O) -> OpFuture<O> {
        OpFuture::new(Rc::clone(&self.shared), op, None)
    }

    /// [`op`](Handle::op), with a deadline, as for
    /// [`queue_with_deadline`](Handle::queue_with_deadline).
    pub fn op_with_deadline<O: Op>(&self, op: O, deadline: Instant) -> OpFuture<O> {
        OpFuture::new(
            Rc::clone(&self.shared),
            op,
            Some(self::core::Deadline::new(deadline)),
        )
    }

    /// A future that resolves once `duration` has passed, timed by the
    /// ring (an [`ops::Timeout`], 5.4, queued by this call, at the
    /// deadline `duration` from now: the time counts from the call, not
    /// from the reactor's next submit): `Ok(())`, or the error that failed
    /// the timeout (the reactor's shutdown cancels it: `ECANCELED`).
    /// Dropping it cancels the timeout. A duration too long for an
    /// `Instant` never ends.
    pub fn sleep(&self, duration: Duration) -> impl Future<Output = io::Result<()>> + 'static {
        let timeout = match Instant::now().checked_add(duration) {
            Some(deadline) => self::ops::Timeout::at(deadline),
            None => self::ops::Timeout::new(duration),
        };
        self.sleep_op(timeout)
    }

    /// [`sleep`](Handle::sleep) until `deadline` (at once for one passed).
    pub fn sleep_until(&self, deadline: Instant) -> impl Future<Output = io::Result<()>> + 'static {
        self.sleep_op(self::ops::Timeout::at(deadline))
    }

    /// The future of a sleep: `timeout`'s `ETIME` is its end.
    fn sleep_op(
        &self,
        timeout: self::ops::Timeout,
    ) -> impl Future<Output = io::Result<()>> + 'static {
        let timeout = self.op(timeout);
        async move {
            match timeout.await.0 {
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
                other => other.map(drop),
            }
        }
    }

    /// `future`, bounded by `duration` (counted from this call): its
    /// output, or a [`TimedOut`](io::ErrorKind::TimedOut) error once
    /// `duration` has passed first, `future` then dropped (which cancels
    /// the ops it awaits). `future` is polled first, so one ready at once wins even
    /// with a duration of 0. An error of the timer itself (the reactor's
    /// shutdown) ends it too. For a single op, a deadline
    /// ([`op_with_deadline`](Handle::op_with_deadline)) bounds it in the
    /// kernel, linked to it.
    pub fn timeout<F: Future>(
        &self,
        duration: Duration,
        future: F,
    ) -> impl Future<Output = io::Result<F::Output>> {
        let sleep = self.sleep(duration);
        async move {
            let mut future = pin!(future);
            let mut sleep = pin!(sleep);
            std::future::poll_fn(|cx| {
                if let Poll::Ready(output) = future.as_mut().poll(cx) {
                    return Poll::Ready(Ok(output));
                }
                sleep.as_mut().poll(cx).map(|slept| {
                    slept.and(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the future did not finish in time",
                    )))
                })
            })
            .await
        }
    }

    /// Queues a multishot op, read as a stream of items. The stream ends
    /// (`None`) when the kernel ends the op, which it may do at any item,
    /// with no error: among other reasons, when the ring's CQ was full as
    /// it posted one (no item is lost). A stream that should go on is
    /// opened again; callbacks (`queue_multishot`) are told of such an end
    /// with a `MultishotEnded` item instead.
    pub fn stream<O: MultishotOp>(&self, op: O) -> OpStream<O> {
        OpStream::new(Rc::clone(&self.shared), op)
    }

    /// Cancels the op `id`, if it is still in flight: it completes soon,
    /// with `ECANCELED` (or its own result if it finished first). A
    /// zero-copy send past its first completion is the exception: it ends
    /// at its notification, whenever the network stack lets go of its
    /// bytes, with its count (see SAFETY.md, "Known limits"). An `EACCES`
    /// error ([`PermissionDenied`](io::ErrorKind::PermissionDenied)) when
    /// the ring's restrictions, registered through it, refuse cancel
    /// requests (`IORING_OP_ASYNC_CANCEL`): the op goes on. Returns
    /// whether a cancel request was queued; an id whose op completed
    /// already cancels nothing, even when its slot holds a new op, and
    /// neither does an id of another reactor's op.
    pub fn cancel(&self, id: OpId) -> io::Result<bool> {
        let mut core = self.shared.core.borrow_mut();
        let cancelled = core.cancel(id);
        release(&self.shared.core, core);
        cancelled
    }

    /// Submits what was queued now, rather than at the reactor's next
    /// round.
    pub fn submit(&self) -> io::Result<()> {
        self.shared.core.borrow_mut().submit()
    }

    /// The reactor current on this thread: the one whose run
    /// ([`Reactor::run`], [`Reactor::run_until`], or the driver of
    /// `Reactor::into_tokio`) is polling the caller (a task, a callback,
    /// the future of a `run_until`, a job a [`Remote`] sent), or the one a
    /// live [`enter`](Handle::enter) guard names, whichever came last.
    /// `NotFound` on a thread with none, as in a tokio task that no
    /// reactor's driver polls unless it entered one.
    ///
    /// ```
    /// use uring::reactor::{Handle, Reactor, ops::Nop};
    ///
    /// async fn nop() -> std::io::Result<u32> {
    ///     let handle = Handle::current()?;
    ///     handle.op(Nop).await.0
    /// }
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let reactor = Reactor::new()?;
    /// assert_eq!(reactor.run_until(nop())??, 0);
    /// assert!(Handle::current().is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn current() -> io::Result<Handle> {
        current::current()
    }

    /// Makes this reactor the thread's current one
    /// ([`current`](Handle::current)) until the guard drops: for code that
    /// no run of it polls, such as tokio tasks beside the reactor's
    /// driver. The guard keeps a handle, and with it the reactor's state,
    /// while it lives.
    pub fn enter(&self) -> EnterGuard {
        current::enter(self)
    }

    /// Spawns a task on the reactor's executor ([`Reactor::run`] and
    /// [`Reactor::run_until`] poll it, and so does the task that drives
    /// the reactor for tokio, `Reactor::into_tokio`).
    ///
    /// On a reactor that has shut down, the task is dropped at once,
    /// unpolled, unless a run is still going (a shutdown from inside it),
    /// which polls it until the run returns and then drops it: nothing
    /// polls a shut-down reactor's tasks after that, and one that holds a
    /// [`Handle`] would keep the reactor alive with it.
    ///
    /// The [`JoinHandle`] it returns awaits the task's output; dropping it
    /// lets the task run on. It resolves to a [`JoinError`] for a task
    /// dropped unfinished, as those above are.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (task, handle) = join::joinable(task);
        self.spawn_detached(task);
        handle
    }

    /// Runs `f` on a thread of the blocking pool, for work that would
    /// stall the reactor's thread: a blocking call into a library, a long
    /// computation, a system call the ring has no op for. Awaiting the
    /// [`RemoteJoinHandle`] (from a task of the reactor, or any executor)
    /// gives `f`'s output; a panic of `f` is caught and gives an error
    /// whose [`is_panic`](JoinError::is_panic) is true.
    ///
    /// One pool serves the process: a job goes to a thread that waits for
    /// one, or to a new thread while fewer than 512 run (past that it
    /// queues); a thread with no job for 10 seconds ends.
    /// [`abort`](RemoteJoinHandle::abort) keeps a job from starting; one
    /// that started runs to its end, its output dropped, and the handle
    /// then resolves as aborted. The job does not hold the reactor: it
    /// runs on whether the reactor runs, shuts down or is dropped. Fails
    /// only when no thread of the pool runs and none can be started; jobs
    /// that other threads queued while those starts failed (and were told
    /// a thread would take them) are then dropped unrun, their handles
    /// resolving with [`is_dropped`](JoinError::is_dropped).
    ///
    /// ```
    /// use uring::reactor::Reactor;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let reactor = Reactor::new()?;
    /// let job = reactor.spawn_blocking(|| std::fs::read_to_string("/proc/self/comm"))?;
    /// let comm = reactor.run_until(job)???;
    /// assert!(!comm.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn_blocking<F, T>(&self, f: F) -> io::Result<RemoteJoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, handle) = join::blocking_joinable();
        match blocking::execute(Box::new(move || job.run(f))) {
            Ok(()) => Ok(handle),
            // Dropping the job ends the handle, which goes too.
            Err((e, job)) => {
                drop(job);
                Err(e)
            }
        }
    }

    /// [`spawn`](Self::spawn), with no handle to await the task.
    pub(crate) fn spawn_detached<F: Future<Output = ()> + 'static>(&self, task: F) {
        let idle_and_closed = self
            .shared
            .core
            .try_borrow()
            .is_ok_and(|core| core.closed() && !core.running);
        if idle_and_closed {
            drop(task);
            return;
        }
        self.shared.exec.spawn(Box::pin(task));
    }

    /// Registers a provided-buffer ring of `count` buffers of `len` bytes
    /// under `group` ([`Ring::register_buf_ring`]): receives that name it
    /// get their buffer from it, as a [`RingBuf`]. It lives as long as the
    /// reactor, or any `RingBuf` of it, whichever is longer.
    pub fn register_buf_ring(
        &self,
        group: BufferGroup,
        count: u16,
        len: u32,
    ) -> io::Result<BufGroup> {
        self.shared
            .core
            .borrow_mut()
            .register_buf_ring(group, count, len)
    }

    /// Registers `count` buffers of `len` bytes each with the reactor's
    /// ring (`IORING_REGISTER_BUFFERS`, 5.1), zeroed and page aligned
    /// (for `O_DIRECT` too), and returns them as a pool that lends each
    /// out as a [`FixedBuffer`] for the fixed-buffer ops
    /// ([`ReadFixed`](ops::ReadFixed), [`WriteFixed`](ops::WriteFixed)).
    ///
    /// A ring has one table of registered buffers: a second registration
    /// fails with `AlreadyExists`, and a ring given to
    /// [`Reactor::from_ring`] with a table of its own fails with the
    /// kernel's `EBUSY`. `count` of 0, `len` of 0, more than 16 384
    /// buffers or buffers longer than 1 GiB are `InvalidInput`; the kernel
    /// counts the pinned memory against `RLIMIT_MEMLOCK` (`ENOMEM`) for a
    /// program without `CAP_IPC_LOCK`. The buffers stay registered until
    /// [`unregister_buffers`](Self::unregister_buffers) or for the
    /// reactor's life.
    pub fn register_buffers(&self, count: u16, len: usize) -> io::Result<FixedBufPool> {
        self.shared.core.borrow_mut().register_buffers(count, len)
    }

    /// Unregisters the ring's table of registered buffers
    /// (`IORING_UNREGISTER_BUFFERS`), taking `pool` (the one
    /// [`register_buffers`](Self::register_buffers) gave) and freeing its
    /// memory, so that another table can be registered. Only once every
    /// buffer is back in the pool and no other clone of the pool is left:
    /// otherwise the pool comes back with an error of kind
    /// [`ResourceBusy`](io::ErrorKind::ResourceBusy) (a buffer lent to an
    /// op in flight is the op's until its last completion), as it does
    /// with `InvalidInput` for another reactor's pool, `NotFound` where
    /// the ring has no table, or the kernel's error.
    pub fn unregister_buffers(&self, pool: FixedBufPool) -> Result<(), (io::Error, FixedBufPool)> {
        self.shared.core.borrow_mut().unregister_buffers(pool)
    }

    /// The program's ops in flight: queued, and not yet at their last
    /// completion.
    pub fn in_flight(&self) -> u32 {
        self.shared.core.borrow().user_in_flight()
    }

    /// Whether the reactor has shut down.
    pub fn is_shut_down(&self) -> bool {
        self.shared.core.borrow().closed()
    }

    /// Shuts the reactor down now, as dropping it does: no op is accepted
    /// any more, every op in flight is cancelled and waited for (callbacks
    /// run, futures resolve), and the tasks are dropped; on a ring that
    /// refuses cancels, what is in flight is left to the kernel and leaked
    /// with the reactor.
    pub fn shutdown(&self) {
        self.shared.shutdown(self);
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Reactor");
        if let Ok(core) = self.shared.core.try_borrow() {
            d.field("in_flight", &core.user_in_flight())
                .field("closed", &core.closed());
        }
        d.finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // A shutdown that could not run (the core was borrowed) left the
        // inbox open: what remotes sent since is dropped, and they are
        // refused from now on.
        self.exec.ready.inbox.close(None);
    }
}

/// Marks a multishot op's slot abandoned if its callback unwinds (called
/// with the op's last completion if `last`).
struct Abandon<'a> {
    shared: &'a Shared,
    index: u32,
    last: bool,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        let dropped = match self.shared.core.try_borrow_mut() {
            Ok(mut core) => core.abandon_each(self.index, self.last),
            Err(_) => Vec::new(),
        };
        drop(dropped);
    }
}

/// Clears the run flag when a run ends, even by a panic.
struct Running<'a>(&'a Shared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let closed = match self.0.core.try_borrow_mut() {
            Ok(mut core) => {
                core.running = false;
                core.closed()
            }
            Err(_) => false,
        };
        if closed && !std::thread::panicking() {
            // A shutdown from inside the run left the tasks spawned since
            // to it; no run polls them again.
            self.0.exec.clear();
        }
    }
}

/// How many completions one [`Shared::reap`] hands out at most (those it
/// reads from the CQ and those it takes from what was moved out of a full
/// one) before it returns to its caller's loop, which polls the futures,
/// tasks and remote jobs that wait, and comes back for the rest: callbacks
/// that keep queueing ops the kernel completes at once (a multishot op
/// armed again at each end on a full CQ, a NOP queued again by its own
/// callback into a full SQ, whose push submits) would otherwise keep it
/// reaping for ever. The tokio driver gives each of its polls one such
/// budget, shared by its rounds.
pub(crate) const REAP_BUDGET: u32 = 1024;

impl Shared {
    /// Handles the completions that are ready, or (see [`REAP_BUDGET`]) a
    /// bounded share of them: the caller's loop comes back while
    /// [`Core::has_completions`] says some wait.
    pub(crate) fn reap(&self) {
        self.reap_up_to(REAP_BUDGET);
    }

    /// Handles at most about `budget` of the completions ready (those of a
    /// run of CQ slots read before are handed out first, and were counted
    /// then); returns the budget left.
    pub(crate) fn reap_up_to(&self, budget: u32) -> u32 {
        let mut left = budget;
        let mut core = self.core.borrow_mut();
        loop {
            let Some(cqe) = core.next_cqe() else {
                match core.refill(&mut left) {
                    Refill::Posted => continue,
                    Refill::Pending => {
                        drop(core);
                        self.reap_pending();
                        core = self.core.borrow_mut();
                        continue;
                    }
                    Refill::Empty | Refill::Later => return left,
                }
            };
            match core.resolve_call(&cqe) {
                Some(call) => {
                    drop(core);
                    // SAFETY: the value is in the storage, which does not
                    // move (slots never do); its slot was released for this
                    // call, which takes it before running anything that
                    // could reuse the slot.
                    unsafe { (call.call)(call.storage, call.res, call.flags, None) };
                }
                None => {
                    let action = core.resolve(cqe);
                    drop(core);
                    self.act(action);
                }
            }
            core = self.core.borrow_mut();
        }
    }

    /// Handles the oldest completion moved out of a full CQ.
    #[cold]
    #[inline(never)]
    fn reap_pending(&self) {
        let action = {
            let mut core = self.core.borrow_mut();
            match core.pop_pending() {
                Some(cqe) => core.resolve(cqe),
                None => return,
            }
        };
        self.act(action);
    }

    /// Does what [`Core::resolve`] left to do, with the core no longer
    /// borrowed.
    #[inline(never)]
    fn act(&self, action: Action) {
        match action {
            Action::None => {}
            Action::Wake(waker) => waker.wake(),
            Action::Call {
                call,
                storage,
                completion,
            } => {
                // SAFETY: as in `reap`: the slot was released for this
                // call, which takes the value first.
                unsafe { call(storage, completion.res, completion.flags, completion.buf) };
            }
            Action::Each {
                each,
                storage,
                mut completion,
                index,
                last,
            } => {
                let running = Abandon {
                    shared: self,
                    index,
                    last,
                };
                loop {
                    // SAFETY: the slot is `Running`: nothing else uses its
                    // value during the call, and the storage does not move.
                    unsafe { each(storage, completion) };
                    let next = self.core.borrow_mut().finish_each(index, last);
                    match next {
                        Finish::Again(held) => completion = held,
                        Finish::Done(garbage) => {
                            std::mem::forget(running);
                            drop(garbage);
                            break;
                        }
                    }
                }
            }
            Action::Discard(garbage) => drop(garbage),
            Action::Panicked(panicked) => {
                let Panicked {
                    panic,
                    waker,
                    garbage,
                } = *panicked;
                drop(garbage);
                if let Some(waker) = waker {
                    waker.wake();
                }
                resume_unwind(panic);
            }
        }
    }

    /// The run loop: runs what remotes sent, polls `main` (if any) and the
    /// tasks, handles completions, and waits when nothing is ready.
    /// Without `main`, returns once no task is left, no op is in flight and
    /// no remote is alive (or the reactor has shut down).
    fn drive<F: Future>(&self, handle: &Handle, main: Option<F>) -> io::Result<Option<F::Output>> {
        {
            let mut core = self.core.borrow_mut();
            if core.running {
                return Err(io::Error::other(
                    "the reactor is already running on this thread",
                ));
            }
            if core.closed() {
                return Err(io::Error::other("the reactor has shut down"));
            }
            core.running = true;
        }
        let _running = Running(self);
        let _current = current::enter(handle);
        let flag = TaskWaker::new(MAIN, Arc::clone(&self.exec.ready));
        let waker = Waker::from(Arc::clone(&flag));
        let mut main = pin!(main);
        let mut woken = Vec::new();
        loop {
            if let Some(future) = main.as_mut().as_pin_mut()
                && flag.scheduled.swap(false, Ordering::AcqRel)
                && let Poll::Ready(output) = future.poll(&mut Context::from_waker(&waker))
            {
                self.core.borrow_mut().submit()?;
                return Ok(Some(output));
            }
            let inbox = &self.exec.ready.inbox;
            inbox.run(handle);
            self.exec.ready.take(&mut woken);
            if !woken.is_empty() {
                self.exec.poll_woken(&mut woken);
            }
            self.reap();
            let ready = (main.is_some() && flag.scheduled.load(Ordering::Acquire))
                || !self.exec.ready.is_empty()
                || inbox.has_jobs();
            // Whether the run is over: no future to drive, no task, no op
            // of the user's in flight, no remote to send more (or a
            // shut-down reactor, which takes nothing they send), and no job
            // a remote sent. The jobs are looked at after the count of
            // remotes (both SeqCst): a remote's job is in the inbox before
            // the remote's drop takes the count down, so the job of a last
            // remote dropped since `ready` was read is seen here, and run
            // by this run rather than after it returned.
            let can_end = |core: &Core| {
                main.is_none()
                    && self.exec.live() == 0
                    && core.user_in_flight() == 0
                    && (core.closed() || !inbox.has_remotes())
                    && !inbox.has_jobs()
            };
            let mut core = self.core.borrow_mut();
            if ready || core.has_completions() {
                core.submit()?;
                continue;
            }
            if can_end(&core) {
                core.submit()?;
                return Ok(None);
            }
            if core.closed() && core.in_flight == 0 {
                // Shut down from inside the run: nothing on the ring will
                // end a wait any more, only a wake of the future.
                drop(core);
                self.exec.ready.park();
                continue;
            }
            if main.is_some() || self.exec.live() > 0 || inbox.has_remotes() {
                // Tasks may be woken, and remotes send work, from other
                // threads.
                core.arm_wakeup()?;
            }
            self.exec.ready.parked.store(true, Ordering::SeqCst);
            // Looked at again after `parked` is set (SeqCst, as the remote
            // that drops the count looks at `parked` after): the last
            // remote dropped since the check above finds the reactor
            // parked and wakes it, or is seen here, and the loop ends
            // instead of waiting for a completion that may never come.
            let waited = if self.exec.ready.is_empty() && !inbox.has_jobs() && !can_end(&core) {
                if core.wakeup_refused
                    && (main.is_some() || self.exec.live() > 0 || inbox.has_remotes())
                {
                    // No poll of the eventfd can end the wait: look again
                    // every little while for what other threads sent.
                    core.wait_a_while(WAKE_POLL_REFUSED_WAIT)
                } else {
                    core.submit_and_wait()
                }
            } else {
                core.submit()
            };
            self.exec.ready.parked.store(false, Ordering::SeqCst);
            waited?;
        }
    }

    /// Cancels and waits for every op in flight, then drops the tasks and
    /// runs what remotes sent (with `handle`, this reactor's).
    fn shutdown(&self, handle: &Handle) {
        // Ops in flight when they were last cancelled.
        let mut left = {
            let Ok(mut core) = self.core.try_borrow_mut() else {
                return;
            };
            if core.closed() && core.in_flight == 0 {
                let driver = core.take_driver();
                drop(core);
                self.end_shutdown(handle, driver);
                return;
            }
            core.begin_shutdown();
            core.in_flight
        };
        let mut backoff = Duration::from_millis(1);
        // When to cancel again, whether or not completions keep coming: an
        // op whose cancel missed it (a multishot op between its trigger
        // and the task work that re-arms it) may post one completion after
        // another, and each ends a wait before it times out.
        let mut next_round = Instant::now() + backoff;
        loop {
            self.reap();
            let Ok(mut core) = self.core.try_borrow_mut() else {
                return;
            };
            if core.in_flight == 0 {
                break;
            }
            if core.cancels_refused {
                // Nothing can end what is in flight but the ops themselves:
                // it stays leaked in the slab rather than waited for,
                // maybe forever.
                break;
            }
            let now = Instant::now();
            if now >= next_round {
                // An op linked after one that could not be cancelled starts
                // later: cancel again now and then, unless ops kept ending
                // since the last round (many cancelled ops take a while).
                if core.in_flight >= left {
                    core.cancel_again();
                }
                left = core.in_flight;
                backoff = (backoff * 2).min(Duration::from_millis(100));
                next_round = now + backoff;
            }
            if core
                .wait_a_while(next_round.saturating_duration_since(now))
                .is_err()
            {
                // The ring fails: what is still in flight stays leaked in
                // the slab rather than freed under the kernel.
                break;
            }
        }
        let driver = self.core.try_borrow_mut().ok().and_then(|mut core| {
            let _ = core.submit();
            core.take_driver()
        });
        self.end_shutdown(handle, driver);
    }

    /// The end of a shutdown, with the core released: the tasks are
    /// dropped, and the tokio driver, if it waits, is woken to resolve.
    ///
    /// Each step is taken even when one before it panics (a task's drop,
    /// a remote's job), so that no job a remote sent is dropped unrun;
    /// the first panic goes on once all are done.
    fn end_shutdown(&self, handle: &Handle, mut driver: Option<Waker>) {
        let steps: [&mut dyn FnMut(); 3] = [
            &mut || self.exec.clear(),
            &mut || self.exec.ready.inbox.close(Some(handle)),
            &mut || {
                if let Some(driver) = driver.take() {
                    driver.wake();
                }
            },
        ];
        run_each(steps, |step| step());
    }
}

/// Calls `step` on each of `items`, even on those after one whose step
/// panics; the first panic goes on once every item has had its step.
///
/// For the ends of a reactor (its shutdown, the closing of a remote's
/// inbox), where an item skipped would be a callback never called.
pub(crate) fn run_each<T>(items: impl IntoIterator<Item = T>, mut step: impl FnMut(T)) {
    let mut first_panic = None;
    for item in items {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| step(item))) {
            first_panic.get_or_insert(panic);
        }
    }
    if let Some(panic) = first_panic {
        resume_unwind(panic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Completions moved out of a full CQ (as `make_room` does when the
    /// kernel refuses a submit until the CQ has room) are handled before
    /// those the kernel posts after them, each once.
    #[test]
    fn completions_moved_out_of_the_cq_come_first_and_once() {
        let reactor = Reactor::from_ring(Ring::new(8).unwrap()).unwrap();
        let h = reactor.handle();
        let log = Rc::new(RefCell::new(Vec::new()));
        let queue = |n: u32| {
            let log = log.clone();
            h.queue(ops::Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                log.borrow_mut().push(n);
            })
            .unwrap();
        };
        queue(1);
        queue(2);
        queue(3);
        {
            let mut core = h.shared.core.borrow_mut();
            core.submit().unwrap();
            core.ring.wait(3).unwrap();
            core.drain_cq();
            assert!(core.has_pending());
            assert_eq!(core.ring.ready(), 0);
        }
        queue(4);
        {
            let mut core = h.shared.core.borrow_mut();
            core.submit().unwrap();
            core.ring.wait(1).unwrap();
        }
        h.shared.reap();
        assert_eq!(*log.borrow(), [1, 2, 3, 4]);
        assert_eq!(h.in_flight(), 0);
        assert!(!h.shared.core.borrow().has_pending());
        h.shared.reap();
        assert_eq!(*log.borrow(), [1, 2, 3, 4]);
    }

    /// A reap hands the kernel back every CQ slot it read: the head the
    /// kernel sees is ours once it returns (the reads move only our copy).
    #[test]
    fn a_reap_hands_back_every_slot_it_read() {
        let reactor = Reactor::from_ring(Ring::new(4).unwrap()).unwrap();
        let h = reactor.handle();
        let done = Rc::new(std::cell::Cell::new(0));
        // More than the CQ's 8 slots, so that the reads wrap round it.
        for _ in 0..3 {
            for _ in 0..4 {
                let done = done.clone();
                h.queue(ops::Nop, move |r, ()| {
                    assert_eq!(r.unwrap(), 0);
                    done.set(done.get() + 1);
                })
                .unwrap();
            }
            {
                let mut core = h.shared.core.borrow_mut();
                core.submit().unwrap();
                core.ring.wait(4).unwrap();
            }
            h.shared.reap();
            let core = h.shared.core.borrow();
            assert_eq!(core.ring.cq.published_head(), core.ring.cq.head());
            assert_eq!(core.ring.ready(), 0);
        }
        assert_eq!(done.get(), 12);
    }

    /// An op that says it selects no provided buffer and selects one
    /// anyway is refused (`EINVAL`, unrun): no buffer is claimed for it.
    #[test]
    fn an_op_that_selects_a_buffer_it_said_it_would_not_is_refused() {
        use crate::types::BufferSelect;
        use std::io::Write as _;

        struct Selects {
            fd: SharedFd,
            group: BufGroup,
        }
        // SAFETY: as `ops::RecvRing`: the SQE selects a buffer of a ring
        // the reactor keeps, and names `fd`, which the op keeps open.
        unsafe impl Op for Selects {
            type Output = bool;
            type Sqe<'a> = crate::ops::Recv<'a, crate::Fd<'a>, BufferSelect>;
            const SELECTS_BUFFER: bool = false;
            fn sqe(&mut self) -> Self::Sqe<'_> {
                crate::ops::Recv::new(self.fd.owned(), self.group.group.select(self.group.len))
            }
            fn complete(self, mut completion: Completion) -> bool {
                completion.take_buf().is_some()
            }
        }

        let reactor = Reactor::new().unwrap();
        let Ok(group) = reactor.register_buf_ring(BufferGroup::new(5), 2, 64) else {
            eprintln!("skipped: no buffer rings");
            return;
        };
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.write_all(b"bytes").unwrap();
        let fd = SharedFd::new(a);
        let got = Rc::new(RefCell::new(None));
        let g = got.clone();
        reactor
            .queue(Selects { fd, group }, move |r, buf| {
                *g.borrow_mut() = Some((r.map_err(|e| e.raw_os_error()), buf));
            })
            .unwrap();
        reactor.run().unwrap();
        assert_eq!(*got.borrow(), Some((Err(Some(libc::EINVAL)), false)));
    }
}
