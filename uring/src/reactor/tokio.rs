//! Driving the reactor from a tokio runtime: the ring's descriptor is
//! registered with tokio's reactor, and a task submits and reaps whenever
//! ops were queued or the ring has completions, runs what remotes sent and
//! polls the tasks of the reactor's own executor that were woken.

use crate::SetupFlags;
use crate::reactor::{REAP_BUDGET, Reactor};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The ring's descriptor, as tokio's reactor polls it. Never handed out.
struct RingFd(RawFd);

impl AsRawFd for RingFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// The task that drives a [`Reactor`] on a tokio runtime: spawn it with
/// `tokio::task::spawn_local` (on a current-thread runtime or in a
/// `LocalSet`), then await the reactor's futures from any task of that
/// thread.
///
/// It submits what tasks queued (they wake it), and handles the ring's
/// completions when tokio reports its descriptor readable. It runs what
/// [`Remote`](crate::reactor::Remote)s send, and polls the tasks spawned
/// on the reactor's executor ([`Handle::spawn`](crate::reactor::Handle::spawn),
/// [`Remote::spawn`](crate::reactor::Remote::spawn)) when they are woken,
/// from this thread or another (a send or a wake wakes it). A poll of it
/// makes at most 128 rounds of submitting, reaping, running jobs and
/// polling tasks, and hands out at most about 1024 completions between
/// them: with work left after that (callbacks or jobs that keep queuing
/// more), it yields to the runtime, which polls it again after its other
/// tasks had their turn, so that it never starves them. It owns
/// the reactor: dropping it (when the runtime shuts down) shuts the
/// reactor down. It resolves once the reactor has been shut down through
/// a [`Handle::shutdown`](crate::reactor::Handle::shutdown), or with the
/// ring's error.
///
/// ```
/// use uring::reactor::{Reactor, ops::Nop};
///
/// # fn main() -> std::io::Result<()> {
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
/// let local = tokio::task::LocalSet::new();
/// local.block_on(&runtime, async {
///     let reactor = Reactor::new()?;
///     let handle = reactor.handle();
///     tokio::task::spawn_local(reactor.into_tokio()?);
///     let (result, ()) = handle.op(Nop).await;
///     assert_eq!(result?, 0);
///     Ok(())
/// })
/// # }
/// ```
pub struct TokioDriver {
    // Declared first: deregistered from tokio before the reactor (and
    // perhaps the ring) goes.
    fd: AsyncFd<RingFd>,
    /// The runtime whose I/O driver `fd` is registered with.
    runtime: tokio::runtime::Id,
    reactor: Reactor,
    /// The ids of the tasks woken, taken from the ready queue each round.
    woken: Vec<u32>,
}

/// The rounds (a submit, the completions ready, the jobs waiting, the
/// tasks woken) one poll of the driver makes at most while work is left,
/// and the completions its rounds hand out at most between them
/// ([`REAP_BUDGET`]): then it yields to the runtime, as a task that used
/// up tokio's own budget (128 operations) does.
const ROUNDS: u32 = 128;

impl Reactor {
    /// Hands the reactor to the current tokio runtime: returns the task
    /// that drives it. Must be called from inside the runtime (it registers
    /// the ring's descriptor with the runtime's I/O driver, which must be
    /// enabled).
    ///
    /// The ring must not be set up with `defer_taskrun`; `coop_taskrun`
    /// suits it best (see [`Reactor::from_ring`]).
    ///
    /// An [`InvalidInput`](io::ErrorKind::InvalidInput) error for a ring
    /// with `defer_taskrun`, whose completions tokio would never see, and
    /// an [`Unsupported`](io::ErrorKind::Unsupported) one outside a tokio
    /// runtime; on either the reactor is dropped (its ops cancelled and
    /// waited for). In a runtime built without its I/O driver, tokio
    /// panics.
    ///
    /// The driver hears the ring through the I/O driver of the runtime it
    /// was made in. Polled by another runtime (spawned there, or awaited
    /// in its `block_on`, the first one alive or dropped), it registers the
    /// ring's descriptor with that one when it has nothing left to do, as
    /// it would have in `into_tokio`, so that its completions still wake
    /// it (and, in a runtime without its I/O driver, tokio panics there).
    pub fn into_tokio(self) -> io::Result<TokioDriver> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "Reactor::into_tokio outside a tokio runtime: call it from a task or \
                 inside Runtime::enter / block_on",
            ));
        };
        let (fd, flags) = {
            let core = self.handle.shared.core.borrow();
            (core.ring.as_raw_fd(), core.ring.params().setup_flags())
        };
        if flags.contains(SetupFlags::DEFER_TASKRUN) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a ring set up with defer_taskrun cannot be driven by tokio: \
                 its completions wait for a wait on the ring, and tokio waits in epoll \
                 (set it up with coop_taskrun instead)",
            ));
        }
        Ok(TokioDriver {
            fd: register(fd)?,
            runtime: runtime.id(),
            reactor: self,
            woken: Vec::new(),
        })
    }
}

/// Registers the ring's descriptor `fd` with the current runtime's I/O
/// driver.
fn register(fd: RawFd) -> io::Result<AsyncFd<RingFd>> {
    // SAFETY: the ring's descriptor stays open, naming the same ring, for
    // as long as the reactor lives, which the driver owns and drops after
    // this registration (`fd` is its first field).
    unsafe { AsyncFd::register_with_interest(RingFd(fd), Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// Registers the ring's descriptor anew with the runtime polling the
/// driver, if that is another than `runtime`, the one `fd` is registered
/// with (the driver was made in one runtime and spawned on another, whose
/// I/O driver alone runs, or the first is gone): whether it did. Outside
/// any runtime the registration stays (another thread may run that
/// runtime's I/O driver).
#[cold]
fn follow_runtime(fd: &mut AsyncFd<RingFd>, runtime: &mut tokio::runtime::Id) -> io::Result<bool> {
    let Ok(current) = tokio::runtime::Handle::try_current() else {
        return Ok(false);
    };
    if current.id() == *runtime {
        return Ok(false);
    }
    let raw = fd.get_ref().0;
    // (The new registration is made before the old one goes: two
    // runtimes' epoll instances may watch one descriptor.)
    *fd = register(raw)?;
    *runtime = current.id();
    Ok(true)
}

impl Future for TokioDriver {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let _current = super::current::enter(&this.reactor.handle);
        let shared = &this.reactor.handle.shared;
        let core = shared.core.borrow();
        if core.closed() {
            return Poll::Ready(Ok(()));
        }
        let known = matches!(core.driver(), Some(w) if w.will_wake(cx.waker()));
        drop(core);
        if !known {
            // Cloned, and the old one dropped, with the core released: a
            // waker is the program's code.
            let waker = cx.waker().clone();
            let old = shared.core.borrow_mut().set_driver(waker);
            drop(old);
        }
        // Remotes wake it when they send work, and tasks when they are
        // woken, while it is idle.
        let ready = &shared.exec.ready;
        ready.set_driver(cx.waker());
        let inbox = &ready.inbox;
        // What callbacks queue while the driver runs is submitted by this
        // loop: they need not wake it.
        shared.core.borrow_mut().set_driving(true);
        let _driving = Driving(shared);
        // Nor do the tasks woken and the jobs sent meanwhile: this loop
        // looks at them until it returns.
        ready.set_driver_idle(false);
        let mut rounds = 0;
        let mut budget = REAP_BUDGET;
        loop {
            {
                let mut core = shared.core.borrow_mut();
                if core.closed() {
                    return Poll::Ready(Ok(()));
                }
                if let Err(e) = core.submit() {
                    return Poll::Ready(Err(e));
                }
            }
            budget = shared.reap_up_to(budget);
            inbox.run(&this.reactor.handle);
            ready.take(&mut this.woken);
            if !this.woken.is_empty() {
                // (The id of `run_until`'s future, which a waker of it
                // kept from an earlier run may queue, polls nothing.)
                shared.exec.poll_woken(&mut this.woken);
            }
            // (Completions left by a reap that returned before the end, as
            // it does when callbacks keep the CQ full, are looked at now:
            // the descriptor, whose readiness was cleared, may not say so.
            // A spent budget may leave them in the kernel's overflow list,
            // where the CQ shows none: the poll then yields all the same.)
            let mut busy = budget == 0
                || {
                    let mut core = shared.core.borrow_mut();
                    core.unsubmitted() || core.has_completions()
                }
                || inbox.has_jobs()
                || !ready.is_empty();
            if !busy {
                ready.set_driver_idle(true);
                // Looked at again after the mark (SeqCst, as a waker or a
                // sender looks at the mark after it queued): what is woken
                // or sent from now on wakes the driver's waker, and what
                // came before is seen here.
                if !ready.is_empty() || inbox.has_jobs() {
                    ready.set_driver_idle(false);
                    busy = true;
                }
            }
            if !busy {
                let end = match this.fd.poll_read_ready(cx) {
                    Poll::Ready(Ok(mut guard)) => {
                        // Cleared before the completions are read: one
                        // posted after this point makes the descriptor
                        // ready again.
                        guard.clear_ready();
                        ready.set_driver_idle(false);
                        None
                    }
                    // (The runtime it is registered with may be shutting
                    // down or gone.)
                    Poll::Ready(Err(e)) => Some(Poll::Ready(Err(e))),
                    Poll::Pending => Some(Poll::Pending),
                };
                if let Some(end) = end {
                    // About to wait, or failing: registered with the
                    // runtime polling it if that is another, and looked at
                    // again through the new registration.
                    match follow_runtime(&mut this.fd, &mut this.runtime) {
                        Ok(true) => continue,
                        Ok(false) => return end,
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
            rounds += 1;
            if rounds == ROUNDS || budget == 0 {
                // Callbacks, tasks or jobs keep making work: the other
                // tasks of the runtime (and its timers) have their turn
                // before the next poll, which comes soon. What was queued
                // reaches the kernel meanwhile.
                if let Err(e) = shared.core.borrow_mut().submit() {
                    return Poll::Ready(Err(e));
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

/// Marks the driver as running until its poll returns, even by a panic.
struct Driving<'a>(&'a crate::reactor::Shared);

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        if let Ok(mut core) = self.0.core.try_borrow_mut() {
            core.set_driving(false);
        }
        // Outside its poll, the driver hears of woken tasks and sent jobs
        // only through its waker (after a panic too: polled again, it
        // would otherwise wait for its descriptor alone).
        self.0.exec.ready.set_driver_idle(true);
    }
}

impl std::fmt::Debug for TokioDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioDriver")
            .field("reactor", &self.reactor)
            .finish_non_exhaustive()
    }
}
