//! What [`Handle::spawn`](crate::reactor::Handle::spawn) returns: a
//! [`JoinHandle`] that awaits the task's output, or aborts the task; and
//! its `Send` form, the [`RemoteJoinHandle`] of
//! [`Remote::spawn`](crate::reactor::Remote::spawn), for other threads.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread, ThreadId};

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
/// own handle waits until the reactor drops it. Other threads get a
/// [`RemoteJoinHandle`] from [`Remote::spawn`](crate::reactor::Remote::spawn).
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
    state: Rc<RefCell<JoinState<T>>>,
}

/// A task spawned on a reactor from another thread
/// ([`Remote::spawn`](crate::reactor::Remote::spawn),
/// [`Remote::spawn_with`](crate::reactor::Remote::spawn_with)): the
/// [`JoinHandle`] of that thread, `Send` and `Sync` when the task's output
/// is `Send`.
///
/// Awaited from any executor on any thread, or waited for without one
/// ([`join`](Self::join)), it gives the task's output once the task
/// finishes on the reactor's thread, or a [`JoinError`] as a
/// [`JoinHandle`] would. Dropping it detaches the task, which runs on.
/// [`abort`](Self::abort) drops the task on the reactor's thread at its
/// next poll.
///
/// ```
/// use std::sync::mpsc;
/// use uring::reactor::{Reactor, ops::Nop};
///
/// # fn main() -> std::io::Result<()> {
/// let (tx, rx) = mpsc::channel();
/// let server = std::thread::spawn(move || -> std::io::Result<()> {
///     let reactor = Reactor::new()?;
///     tx.send(reactor.remote()).unwrap();
///     reactor.run()
/// });
/// let remote = rx.recv().unwrap();
/// // The future is made on the reactor's thread, where it may hold the
/// // reactor's handle; only its output crosses back.
/// let task = remote.spawn_with(|h| {
///     let h = h.clone();
///     async move { h.op(Nop).await.0 }
/// })?;
/// assert_eq!(task.join()??, 0);
/// drop(remote);
/// server.join().unwrap()?;
/// # Ok(())
/// # }
/// ```
pub struct RemoteJoinHandle<T> {
    state: Arc<Mutex<JoinState<T>>>,
    /// The reactor's thread, on which [`join`](Self::join) would wait
    /// for ever (none for a blocking job, which runs on a thread of its
    /// own).
    reactor: Option<ThreadId>,
}

/// What a task and its handle share.
struct JoinState<T> {
    /// The task's output, once it finished; then taken by the handle.
    output: Output<T>,
    /// The waker of the handle's last poll.
    joiner: Option<Waker>,
    /// The waker of the task's last poll: an abort wakes it.
    task: Option<Waker>,
    /// The handle's `abort` was called.
    aborted: bool,
    /// The task is being polled: set while its poll runs, and left set if
    /// the poll unwinds, which is how a panic of the task itself is told
    /// from a drop during another's.
    polling: bool,
}

impl<T> JoinState<T> {
    fn new() -> JoinState<T> {
        JoinState {
            output: Output::Running,
            joiner: None,
            task: None,
            aborted: false,
            polling: false,
        }
    }
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

/// The cell a task and its handle keep their [`JoinState`] in: a
/// `RefCell` on the reactor's thread, a `Mutex` for a handle of another
/// thread. No code of the program's runs inside [`with`](Self::with)
/// (wakers are cloned, woken and dropped outside it, and so are outputs),
/// so the borrow is never taken twice, nor the lock poisoned.
trait Shared: Clone {
    type Output;
    fn with<R>(&self, f: impl FnOnce(&mut JoinState<Self::Output>) -> R) -> R;

    /// Records how the task ended, unless it ended already, and wakes
    /// the handle's awaiter.
    fn end(&self, output: Output<Self::Output>) {
        let joiner = self.with(|state| {
            if !matches!(state.output, Output::Running) {
                return None;
            }
            state.output = output;
            state.joiner.take()
        });
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    }

    /// Keeps the waker of `cx` in the slot `slot` picks (the task's or
    /// the handle's), unless the one there wakes the same.
    fn remember(
        &self,
        slot: fn(&mut JoinState<Self::Output>) -> &mut Option<Waker>,
        cx: &Context<'_>,
    ) {
        let known = self.with(|state| matches!(slot(state), Some(w) if w.will_wake(cx.waker())));
        if known {
            return;
        }
        let waker = cx.waker().clone();
        let old = self.with(|state| slot(state).replace(waker));
        drop(old);
    }

    fn is_finished(&self) -> bool {
        self.with(|state| !matches!(state.output, Output::Running))
    }

    fn abort(&self) {
        let task = self.with(|state| {
            if matches!(state.output, Output::Running) && !state.aborted {
                state.aborted = true;
                state.task.take()
            } else {
                None
            }
        });
        if let Some(task) = task {
            task.wake();
        }
    }

    /// The handle's poll.
    fn poll_join(&self, cx: &Context<'_>) -> Poll<Result<Self::Output, JoinError>> {
        let output = self.with(
            |state| match std::mem::replace(&mut state.output, Output::Taken) {
                Output::Running => {
                    state.output = Output::Running;
                    None
                }
                output => Some(output),
            },
        );
        match output {
            None => {
                self.remember(joiner_slot, cx);
                // Ended meanwhile: its wake found no waker.
                if self.is_finished() {
                    return self.poll_join(cx);
                }
                Poll::Pending
            }
            Some(Output::Ready(value)) => Poll::Ready(Ok(value)),
            Some(Output::Failed(error)) => Poll::Ready(Err(error)),
            Some(Output::Running | Output::Taken) => Poll::Ready(Err(JoinError {
                kind: JoinErrorKind::Taken,
            })),
        }
    }
}

fn task_slot<T>(state: &mut JoinState<T>) -> &mut Option<Waker> {
    &mut state.task
}

fn joiner_slot<T>(state: &mut JoinState<T>) -> &mut Option<Waker> {
    &mut state.joiner
}

impl<T> Shared for Rc<RefCell<JoinState<T>>> {
    type Output = T;
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut JoinState<T>) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

impl<T> Shared for Arc<Mutex<JoinState<T>>> {
    type Output = T;
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut JoinState<T>) -> R) -> R {
        f(&mut self.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The future the executor polls for a task: the task's own, dropped in
/// place once it finished or was aborted (or with this), and the state it
/// shares with its handle.
struct Joined<F: Future, S: Shared<Output = F::Output>> {
    /// Pinned with `self` (structurally): never moved out, dropped in
    /// place by [`drop_task`](Joined::drop_task), once.
    task: ManuallyDrop<F>,
    /// Whether `task` is still there to poll and to drop.
    live: bool,
    state: S,
}

impl<F: Future, S: Shared<Output = F::Output>> Joined<F, S> {
    fn new(task: F, state: S) -> Joined<F, S> {
        Joined {
            task: ManuallyDrop::new(task),
            live: true,
            state,
        }
    }

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
            self.state.end(failed(JoinErrorKind::Panicked));
            if !thread::panicking() {
                resume_unwind(panic);
            }
        }
    }
}

fn failed<T>(kind: JoinErrorKind) -> Output<T> {
    Output::Failed(JoinError { kind })
}

impl<F: Future, S: Shared<Output = F::Output>> Future for Joined<F, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out of `this`: `task` is only pinned
        // again below, or dropped in place; the other fields are not
        // pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.live {
            return Poll::Ready(());
        }
        // The waker is kept before the abort is looked at: an abort from
        // another thread after the look finds it, and wakes the task.
        this.state.remember(task_slot, cx);
        if this.state.with(|state| state.aborted) {
            this.drop_task();
            return Poll::Ready(());
        }
        this.state.with(|state| state.polling = true);
        // SAFETY: `task` is pinned with `this` (see the field), and `live`
        // says it is there.
        let task = unsafe { Pin::new_unchecked(&mut *this.task) };
        let poll = task.poll(cx);
        this.state.with(|state| state.polling = false);
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

impl<F: Future, S: Shared<Output = F::Output>> Drop for Joined<F, S> {
    /// Drops the task's future, then ends the state of a task that did not
    /// finish: aborted, unwound by its poll, or dropped unfinished (a drop
    /// that panicked ended it already).
    fn drop(&mut self) {
        self.drop_task();
        let kind = self.state.with(|state| {
            if state.aborted {
                JoinErrorKind::Aborted
            } else if state.polling {
                JoinErrorKind::Panicked
            } else {
                JoinErrorKind::Dropped
            }
        });
        self.state.end(failed(kind));
    }
}

/// Wraps `task` into the future the executor polls, and the handle that
/// awaits its output.
pub(crate) fn joinable<F>(task: F) -> (impl Future<Output = ()> + 'static, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let state = Rc::new(RefCell::new(JoinState::new()));
    let future = Joined::new(task, Rc::clone(&state));
    (future, JoinHandle { state })
}

/// The task of a [`RemoteJoinHandle`], before its future is made on the
/// reactor's thread: dropped unstarted (the reactor shut down before it
/// ran the job, or the job's maker panicked), it ends the handle's state.
pub(crate) struct RemoteStart<T> {
    state: Arc<Mutex<JoinState<T>>>,
    /// Where it stands: not started, its future being made (a drop then
    /// is the maker's panic), or started.
    stage: Stage,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Making,
    Started,
}

/// A [`RemoteJoinHandle`] for a task of the reactor whose thread is
/// `reactor`, and what starts the task on that thread.
pub(crate) fn remote_joinable<T>(reactor: ThreadId) -> (RemoteStart<T>, RemoteJoinHandle<T>) {
    let state = Arc::new(Mutex::new(JoinState::new()));
    let start = RemoteStart {
        state: Arc::clone(&state),
        stage: Stage::Waiting,
    };
    (
        start,
        RemoteJoinHandle {
            state,
            reactor: Some(reactor),
        },
    )
}

/// A job of [`Handle::spawn_blocking`](crate::reactor::Handle::spawn_blocking):
/// runs on a thread of the blocking pool and ends its handle's state.
pub(crate) struct BlockingJob<T> {
    state: Arc<Mutex<JoinState<T>>>,
}

/// A [`RemoteJoinHandle`] for a blocking job, and the job's side.
pub(crate) fn blocking_joinable<T>() -> (BlockingJob<T>, RemoteJoinHandle<T>) {
    let state = Arc::new(Mutex::new(JoinState::new()));
    let job = BlockingJob {
        state: Arc::clone(&state),
    };
    (
        job,
        RemoteJoinHandle {
            state,
            reactor: None,
        },
    )
}

impl<T> BlockingJob<T> {
    /// Runs `f`, unless the handle aborted the job first, and ends the
    /// handle's state with its output, its panic or the abort. Nothing of
    /// `f`'s unwinds out of here: a panic, or a panic of its payload's drop,
    /// is caught (a payload whose drop panics is leaked).
    pub(crate) fn run(self, f: impl FnOnce() -> T) {
        if self.state.with(|state| state.aborted) {
            self.state.end(failed(JoinErrorKind::Aborted));
            return;
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(output) => {
                if self.state.with(|state| state.aborted) {
                    // Dropped outside the state's lock, and before the
                    // handle learns the job ended.
                    if catch_unwind(AssertUnwindSafe(|| drop(output))).is_err() {
                        self.state.end(failed(JoinErrorKind::Panicked));
                    }
                    self.state.end(failed(JoinErrorKind::Aborted));
                } else {
                    self.state.end(Output::Ready(output));
                }
            }
            Err(panic) => {
                if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(panic))) {
                    std::mem::forget(again);
                }
                self.state.end(failed(JoinErrorKind::Panicked));
            }
        }
    }
}

impl<T> Drop for BlockingJob<T> {
    /// A job dropped unrun (the pool could not start it) ends its handle
    /// as dropped.
    fn drop(&mut self) {
        self.state.end(failed(JoinErrorKind::Dropped));
    }
}

impl<T: 'static> RemoteStart<T> {
    /// Wraps `task` into the future the executor polls.
    pub(crate) fn start<F>(mut self, task: F) -> impl Future<Output = ()> + 'static
    where
        F: Future<Output = T> + 'static,
    {
        self.stage = Stage::Started;
        Joined::new(task, Arc::clone(&self.state))
    }

    /// Makes the task's future with `make`, and wraps it: a panic of
    /// `make` ends the handle's state as panicked.
    pub(crate) fn start_with<F>(
        mut self,
        make: impl FnOnce() -> F,
    ) -> impl Future<Output = ()> + 'static
    where
        F: Future<Output = T> + 'static,
    {
        self.stage = Stage::Making;
        let task = make();
        self.start(task)
    }
}

impl<T> Drop for RemoteStart<T> {
    fn drop(&mut self) {
        let kind = match self.stage {
            Stage::Started => return,
            Stage::Making => JoinErrorKind::Panicked,
            Stage::Waiting => JoinErrorKind::Dropped,
        };
        self.state.end(failed(kind));
    }
}

impl<T> JoinHandle<T> {
    /// Whether the task has ended: finished, aborted, dropped or unwound.
    /// The handle is then ready.
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Aborts the task: it is dropped at its next poll, on the reactor's
    /// thread, without being polled again (the ops it awaits are dropped
    /// with their futures, which cancels them), and the handle resolves to
    /// an error whose [`is_aborted`](JoinError::is_aborted) is true. A task
    /// that finished already keeps its output. An op the task awaited that
    /// completed before the abort took effect is dropped with its result:
    /// bytes a read took from a pipe or socket go with its buffer.
    pub fn abort(&self) {
        self.state.abort();
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// Ready once the task ended, with its output or how it failed. Polled
    /// again after that, it gives an error whose
    /// [`is_taken`](JoinError::is_taken) is true.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.state.poll_join(cx)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl<T> RemoteJoinHandle<T> {
    /// Whether the task has ended: finished, aborted, dropped or unwound.
    /// The handle is then ready.
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Aborts the task, as [`JoinHandle::abort`] does: it is dropped on
    /// the reactor's thread at its next poll (a task not started yet, at
    /// its start), and the handle resolves to an error whose
    /// [`is_aborted`](JoinError::is_aborted) is true, once the reactor's
    /// thread has dropped it. A task that finished already keeps its
    /// output.
    pub fn abort(&self) {
        self.state.abort();
    }

    /// Waits on this thread, without an executor, until the task ends,
    /// and gives what awaiting the handle would. On the reactor's own
    /// thread, where the task cannot run while the thread waits, a task
    /// that has not ended gives an error whose
    /// [`is_would_block`](JoinError::is_would_block) is true, at once,
    /// and the handle is dropped (the task runs on, detached).
    pub fn join(self) -> Result<T, JoinError> {
        if self.reactor == Some(thread::current().id()) && !self.is_finished() {
            return Err(JoinError {
                kind: JoinErrorKind::WouldBlock,
            });
        }
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let cx = Context::from_waker(&waker);
        loop {
            match self.state.poll_join(&cx) {
                Poll::Ready(output) => return output,
                // A wake before the park makes the park return at once.
                Poll::Pending => thread::park(),
            }
        }
    }
}

/// The waker of [`RemoteJoinHandle::join`]: unparks the waiting thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// Ready once the task ended, with its output or how it failed, as a
    /// [`JoinHandle`]'s.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.state.poll_join(cx)
    }
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// Why a [`JoinHandle`] or a [`RemoteJoinHandle`] has no output to give.
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
    WouldBlock,
}

impl JoinError {
    /// The task was aborted through its handle.
    pub fn is_aborted(&self) -> bool {
        self.kind == JoinErrorKind::Aborted
    }

    /// The task was dropped unfinished by the reactor: at its shutdown (or
    /// its drop), or at once, spawned on a reactor that had shut down.
    /// For a blocking job: only when no thread of the pool ran and none
    /// could be started for the job
    /// ([`Handle::spawn_blocking`](crate::reactor::Handle::spawn_blocking)).
    pub fn is_dropped(&self) -> bool {
        self.kind == JoinErrorKind::Dropped
    }

    /// The task panicked: while it was polled (the panic went on out of
    /// the run that polled it), or while its future was dropped (at the
    /// shutdown, or when aborted), or, for
    /// [`Remote::spawn_with`](crate::reactor::Remote::spawn_with), while it
    /// was made. A task
    /// dropped while another's panic unwinds is
    /// [`is_dropped`](Self::is_dropped). A blocking job
    /// ([`Handle::spawn_blocking`](crate::reactor::Handle::spawn_blocking))
    /// whose function panicked: the panic goes no further.
    pub fn is_panic(&self) -> bool {
        self.kind == JoinErrorKind::Panicked
    }

    /// The handle had given its output already: it was polled after it
    /// was ready.
    pub fn is_taken(&self) -> bool {
        self.kind == JoinErrorKind::Taken
    }

    /// [`RemoteJoinHandle::join`] was called on the reactor's own thread
    /// before the task ended: it would have waited for ever.
    pub fn is_would_block(&self) -> bool {
        self.kind == JoinErrorKind::WouldBlock
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            JoinErrorKind::Aborted => "task aborted",
            JoinErrorKind::Dropped => "task dropped unfinished by its reactor",
            JoinErrorKind::Panicked => "task panicked",
            JoinErrorKind::Taken => "task output already taken",
            JoinErrorKind::WouldBlock => {
                "joined on its reactor's own thread, which cannot run the task while it waits"
            }
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
