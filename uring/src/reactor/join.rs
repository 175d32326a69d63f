//! What [`Handle::spawn`](crate::reactor::Handle::spawn) returns: a
//! [`JoinHandle`] that awaits the task's output, or aborts the task.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A task spawned on a reactor ([`Handle::spawn`](crate::reactor::Handle::spawn)):
/// awaiting it gives the task's output once the task finishes.
///
/// Dropping the handle detaches the task, which runs on. The handle
/// resolves to a [`JoinError`] when the task ends without an output:
/// [`abort`](Self::abort)ed, dropped by the reactor's shutdown (or
/// unpolled, spawned on a reactor that had shut down), or unwound by a
/// panic (which goes on out of the run that polled the task). It stays
/// on the reactor's thread (it is neither `Send` nor `Sync`), as the task
/// does; it may be awaited by another task, by
/// [`run_until`](crate::reactor::Reactor::run_until), or by a tokio task
/// on that thread. Polled from two places in turn (shared in a `RefCell`),
/// only the waker of the last poll is woken, and a task that awaits its
/// own handle waits until the reactor drops it.
///
/// ```
/// use uring::reactor::{Reactor, ops::Nop};
///
/// # fn main() -> std::io::Result<()> {
/// let reactor = Reactor::new()?;
/// let handle = reactor.handle();
/// let task = reactor.spawn(async move {
///     let (result, ()) = handle.op(Nop).await;
///     result.map(|n| n + 40)
/// });
/// assert_eq!(reactor.run_until(task)???, 40);
/// # Ok(())
/// # }
/// ```
pub struct JoinHandle<T> {
    state: Rc<JoinState<T>>,
}

/// What a task and its handle share.
struct JoinState<T> {
    /// The task's output, once it finished; then taken by the handle.
    output: RefCell<Output<T>>,
    /// The waker of the handle's last poll.
    joiner: RefCell<Option<Waker>>,
    /// The waker of the task's last poll: an abort wakes it.
    task: RefCell<Option<Waker>>,
    /// [`JoinHandle::abort`] was called.
    aborted: Cell<bool>,
    /// The task is being polled: set while its poll runs, and left set if
    /// the poll unwinds, which is how a panic of the task itself is told
    /// from a drop during another's.
    polling: Cell<bool>,
}

/// Where a task stands, as its handle sees it.
enum Output<T> {
    /// Not finished.
    Running,
    /// Finished with this output, not yet handed to the handle.
    Ready(T),
    /// The output was handed out.
    Taken,
    /// Ended without an output.
    Failed(JoinError),
}

impl<T> JoinState<T> {
    /// Records how the task ended, and wakes the handle's awaiter.
    fn end(&self, output: Output<T>) {
        *self.output.borrow_mut() = output;
        // Taken out first: the waker is the program's code.
        let joiner = self.joiner.borrow_mut().take();
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    }
}

/// The future the executor polls for a task: the task's own, dropped in
/// place once it finished or was aborted (or with this), and the state it
/// shares with its handle.
struct Joined<F: Future> {
    /// Pinned with `self` (structurally): never moved out, dropped in
    /// place by [`drop_task`](Joined::drop_task), once.
    task: ManuallyDrop<F>,
    /// Whether `task` is still there to poll and to drop.
    live: bool,
    state: Rc<JoinState<F::Output>>,
}

impl<F: Future> Joined<F> {
    /// Drops the task's future in place, if still there. A panic of its
    /// drop marks the task panicked, and goes on unless another panic is
    /// unwinding already (a second would abort the process).
    fn drop_task(&mut self) {
        if !self.live {
            return;
        }
        self.live = false;
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `live` was set, and is cleared above: the future is
            // there, and dropped once, in place (it was pinned there).
            unsafe { ManuallyDrop::drop(&mut self.task) }
        }));
        if let Err(panic) = dropped {
            self.fail(JoinErrorKind::Panicked);
            if !std::thread::panicking() {
                resume_unwind(panic);
            }
        }
    }

    /// Ends the task's state as failed with `kind`, unless it ended.
    fn fail(&self, kind: JoinErrorKind) {
        if matches!(*self.state.output.borrow(), Output::Running) {
            self.state.end(Output::Failed(JoinError { kind }));
        }
    }
}

impl<F: Future> Future for Joined<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of `this`: `task` is only pinned
        // again below, or dropped in place; the other fields are not
        // pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.live {
            return Poll::Ready(());
        }
        if this.state.aborted.get() {
            this.drop_task();
            return Poll::Ready(());
        }
        remember(&this.state.task, cx);
        this.state.polling.set(true);
        // SAFETY: `task` is pinned with `this` (see the field), and `live`
        // says it is there.
        let task = unsafe { Pin::new_unchecked(&mut *this.task) };
        let poll = task.poll(cx);
        this.state.polling.set(false);
        match poll {
            Poll::Ready(output) => {
                // The future goes before its handle learns of the output.
                this.drop_task();
                this.state.end(Output::Ready(output));
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> Drop for Joined<F> {
    /// Drops the task's future, then ends the state of a task that did not
    /// finish: aborted, unwound by its poll, or dropped unfinished (a drop
    /// that panicked ended it already).
    fn drop(&mut self) {
        self.drop_task();
        let kind = if self.state.aborted.get() {
            JoinErrorKind::Aborted
        } else if self.state.polling.get() {
            JoinErrorKind::Panicked
        } else {
            JoinErrorKind::Dropped
        };
        self.fail(kind);
    }
}

/// Wraps `task` into the future the executor polls, and the handle that
/// awaits its output.
pub(crate) fn joinable<F>(task: F) -> (impl Future<Output = ()> + 'static, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let state = Rc::new(JoinState {
        output: RefCell::new(Output::Running),
        joiner: RefCell::new(None),
        task: RefCell::new(None),
        aborted: Cell::new(false),
        polling: Cell::new(false),
    });
    let future = Joined {
        task: ManuallyDrop::new(task),
        live: true,
        state: Rc::clone(&state),
    };
    (future, JoinHandle { state })
}

/// Keeps the waker of `cx` in `slot`, unless the one there wakes the same
/// task.
fn remember(slot: &RefCell<Option<Waker>>, cx: &Context<'_>) {
    let mut slot = slot.borrow_mut();
    if !matches!(&*slot, Some(w) if w.will_wake(cx.waker())) {
        let old = slot.replace(cx.waker().clone());
        drop(slot);
        drop(old);
    }
}

impl<T> JoinHandle<T> {
    /// Whether the task has ended: finished, aborted, dropped or unwound.
    /// The handle is then ready.
    pub fn is_finished(&self) -> bool {
        !matches!(*self.state.output.borrow(), Output::Running)
    }

    /// Aborts the task: it is dropped at its next poll, on the reactor's
    /// thread, without being polled again (the ops it awaits are dropped
    /// with their futures, which cancels them), and the handle resolves to
    /// an error whose [`is_aborted`](JoinError::is_aborted) is true. A task
    /// that finished already keeps its output. An op the task awaited that
    /// completed before the abort took effect is dropped with its result:
    /// bytes a read took from a pipe or socket go with its buffer.
    pub fn abort(&self) {
        if self.is_finished() || self.state.aborted.replace(true) {
            return;
        }
        let task = self.state.task.borrow_mut().take();
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// Ready once the task ended, with its output or how it failed. Polled
    /// again after that, it gives an error whose
    /// [`is_taken`](JoinError::is_taken) is true.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut output = self.state.output.borrow_mut();
        match std::mem::replace(&mut *output, Output::Taken) {
            Output::Running => {
                *output = Output::Running;
                drop(output);
                remember(&self.state.joiner, cx);
                Poll::Pending
            }
            Output::Ready(value) => Poll::Ready(Ok(value)),
            Output::Failed(error) => Poll::Ready(Err(error)),
            Output::Taken => Poll::Ready(Err(JoinError {
                kind: JoinErrorKind::Taken,
            })),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// Why a [`JoinHandle`] has no output to give.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JoinError {
    kind: JoinErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinErrorKind {
    Aborted,
    Dropped,
    Panicked,
    Taken,
}

impl JoinError {
    /// The task was aborted through its handle.
    pub fn is_aborted(&self) -> bool {
        self.kind == JoinErrorKind::Aborted
    }

    /// The task was dropped unfinished by the reactor: at its shutdown (or
    /// its drop), or at once, spawned on a reactor that had shut down.
    pub fn is_dropped(&self) -> bool {
        self.kind == JoinErrorKind::Dropped
    }

    /// The task panicked: while it was polled (the panic went on out of
    /// the run that polled it), or while its future was dropped (at the
    /// shutdown, or when aborted). A task dropped while another's panic
    /// unwinds is [`is_dropped`](Self::is_dropped).
    pub fn is_panic(&self) -> bool {
        self.kind == JoinErrorKind::Panicked
    }

    /// The handle had given its output already: it was polled after it
    /// was ready.
    pub fn is_taken(&self) -> bool {
        self.kind == JoinErrorKind::Taken
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            JoinErrorKind::Aborted => "task aborted",
            JoinErrorKind::Dropped => "task dropped unfinished by its reactor",
            JoinErrorKind::Panicked => "task panicked",
            JoinErrorKind::Taken => "task output already taken",
        })
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinError")
            .field("kind", &self.kind)
            .finish()
    }
}

impl Error for JoinError {}

/// An [`io::Error`] of kind [`Other`](io::ErrorKind::Other), with the
/// `JoinError` as its inner error.
impl From<JoinError> for io::Error {
    fn from(error: JoinError) -> io::Error {
        io::Error::other(error)
    }
}
