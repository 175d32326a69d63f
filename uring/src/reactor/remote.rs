//! Reaching a reactor from other threads: a [`Remote`] hands closures to
//! the reactor's thread, which runs them with a [`Handle`] between rounds
//! of completions (go-uring's reactor, queued from any goroutine).

use crate::reactor::exec::ReadyQueue;
use crate::reactor::join::{self, RemoteJoinHandle};
use crate::reactor::op::{Completion, Op};
use crate::reactor::{Handle, OpId, REAP_BUDGET, run_each};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// A closure sent to the reactor's thread.
type Job = Box<dyn FnOnce(&Handle) + Send>;

/// The closures other threads sent, waiting for the reactor's thread.
#[derive(Default)]
pub(crate) struct Inbox {
    jobs: Mutex<Jobs>,
    /// Jobs wait: read without the lock at every round of the run loop.
    pending: AtomicBool,
    /// Live [`Remote`]s: while there are any, `run` keeps serving.
    remotes: AtomicUsize,
    /// The ops queued through remotes that have not completed, by the
    /// [`RemoteOpId`] their sender was given: touched on the reactor's
    /// thread only (by the jobs that queue and cancel them, and by their
    /// callbacks), so never contended.
    queued: Mutex<HashMap<u64, OpId>>,
}

/// The id of an op queued through a [`Remote`], which
/// [`Remote::cancel_queued`] takes, from any thread: go-uring's request id
/// for ops queued from another goroutine. Unique in the process: an id
/// cancels its own op, and nothing once that op has completed, nor any op
/// of another reactor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteOpId(u64);

/// The next [`RemoteOpId`]'s number.
static NEXT_REMOTE_OP: AtomicU64 = AtomicU64::new(1);

#[derive(Default)]
struct Jobs {
    queue: VecDeque<Job>,
    /// The reactor has shut down: no job is taken any more.
    closed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inbox {
    /// Whether jobs wait.
    #[inline(always)]
    pub(crate) fn has_jobs(&self) -> bool {
        // SeqCst, against the reactor's `parked` flag (and the tokio
        // driver's idle mark): either the reactor sees the job, or the
        // sender sees it parked (or idle) and wakes it.
        self.pending.load(Ordering::SeqCst)
    }

    /// Whether a [`Remote`] is alive.
    #[inline(always)]
    pub(crate) fn has_remotes(&self) -> bool {
        self.remotes.load(Ordering::SeqCst) > 0
    }

    /// The oldest job, if any.
    fn pop(&self) -> Option<Job> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.queue.pop_front();
        self.pending.store(!jobs.queue.is_empty(), Ordering::SeqCst);
        job
    }

    /// Runs the jobs that wait, on the reactor's thread, with no borrow of
    /// the reactor held: those sent while they run wait for the next round,
    /// so that a job that sends another does not keep the loop here, and
    /// so do those past the first [`REAP_BUDGET`], so that threads sending
    /// faster than the reactor runs cannot make a round last ever longer
    /// (each round also reaps at most as many completions: the completion
    /// the run waits for is reached in a bounded number of rounds). A job
    /// that panics ends the round; the rest stay queued.
    #[inline(always)]
    pub(crate) fn run(&self, handle: &Handle) {
        if self.has_jobs() {
            self.run_jobs(handle);
        }
    }

    #[inline(never)]
    fn run_jobs(&self, handle: &Handle) {
        let mut left = lock(&self.jobs).queue.len().min(REAP_BUDGET as usize);
        while left > 0 {
            let Some(job) = self.pop() else { break };
            left -= 1;
            job(handle);
        }
    }

    /// Takes no more jobs, and runs those that wait (with `handle`, whose
    /// reactor has shut down) or, without one, drops them.
    pub(crate) fn close(&self, handle: Option<&Handle>) {
        let jobs = {
            let mut jobs = lock(&self.jobs);
            jobs.closed = true;
            self.pending.store(false, Ordering::SeqCst);
            std::mem::take(&mut jobs.queue)
        };
        match handle {
            Some(handle) => {
                // Every job runs, even after one that panics (whose panic
                // goes on once all have run): each may be the only call of
                // a callback its sender waits for.
                run_each(jobs, |job| job(handle));
            }
            None => drop(jobs),
        }
    }
}

/// A handle to a [`Reactor`](crate::reactor::Reactor) for other threads:
/// `Send`, `Sync` and cheap to clone. What it is given runs on the
/// reactor's thread, at the reactor's next round (the reactor's wait for
/// completions ends for it), in the order it was given from one thread.
///
/// While a `Remote` is alive, [`Reactor::run`](crate::reactor::Reactor::run)
/// keeps serving it when nothing else is left to do, as go-uring's `Run`
/// does until its context ends; it returns once the last `Remote` is
/// dropped (or [`shutdown`](Remote::shutdown) is called) and nothing is in
/// flight: a `Remote` kept alive on the reactor's own thread keeps `run`
/// going, which [`run_until`](crate::reactor::Reactor::run_until) does
/// not; so does one given to `mem::forget`, until a shutdown. A reactor
/// driven by tokio runs what it is given in its driver task.
///
/// Ops that own a [`SharedFd`](crate::reactor::SharedFd) are not `Send`:
/// send the descriptor (an `OwnedFd`, a `File`) in a closure given to
/// [`execute`](Remote::execute), and make the op there.
///
/// Every method fails with an error once the reactor has shut down; a
/// closure accepted before that is run all the same (during the shutdown,
/// with a handle whose reactor no longer takes ops), so nothing given to a
/// `Remote` is dropped unseen.
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
///     // Serves until the last `Remote` is dropped.
///     reactor.run()
/// });
/// let remote = rx.recv().unwrap();
/// let (done, results) = mpsc::channel();
/// remote.queue(Nop, move |result, ()| done.send(result.unwrap()).unwrap())?;
/// assert_eq!(results.recv().unwrap(), 0);
/// drop(remote);
/// server.join().unwrap()?;
/// # Ok(())
/// # }
/// ```
pub struct Remote {
    ready: Arc<ReadyQueue>,
}

fn shut_down() -> io::Error {
    io::Error::other("the reactor has shut down")
}

impl Remote {
    pub(crate) fn new(ready: Arc<ReadyQueue>) -> Remote {
        ready.inbox.remotes.fetch_add(1, Ordering::SeqCst);
        Remote { ready }
    }

    /// Runs `f` on the reactor's thread with a handle to the reactor: the
    /// general form of the other methods, for work that needs the thread
    /// (making a [`SharedFd`](crate::reactor::SharedFd), queueing an op
    /// and sending back its [`OpId`], spawning a task that is not `Send`).
    ///
    /// An error when the reactor has shut down; `f` is dropped then, on
    /// this thread, never run.
    pub fn execute<F>(&self, f: F) -> io::Result<()>
    where
        F: FnOnce(&Handle) + Send + 'static,
    {
        let inbox = &self.ready.inbox;
        {
            let mut jobs = lock(&inbox.jobs);
            if jobs.closed {
                drop(jobs);
                drop(f);
                return Err(shut_down());
            }
            jobs.queue.push_back(Box::new(f));
            inbox.pending.store(true, Ordering::SeqCst);
        }
        self.wake();
        Ok(())
    }

    /// Queues `op` on the reactor (as [`Handle::queue`]); `callback` runs
    /// on the reactor's thread with its result and output. Returns the id
    /// that cancels it from any thread ([`cancel_queued`]).
    ///
    /// An error when the reactor has shut down already. When it shuts down
    /// (or its ring fails) after accepting the op but before the op reaches
    /// the kernel, `callback` runs with that error, and the op's output as
    /// for a failed op: the op is never dropped unseen.
    ///
    /// [`cancel_queued`]: Remote::cancel_queued
    pub fn queue<O, F>(&self, op: O, callback: F) -> io::Result<RemoteOpId>
    where
        O: Op + Send,
        F: FnOnce(io::Result<u32>, O::Output) + Send + 'static,
    {
        self.queue_remote(op, None, callback)
    }

    /// [`queue`](Remote::queue), with a deadline, as
    /// [`Handle::queue_with_deadline`].
    pub fn queue_with_deadline<O, F>(
        &self,
        op: O,
        deadline: Instant,
        callback: F,
    ) -> io::Result<RemoteOpId>
    where
        O: Op + Send,
        F: FnOnce(io::Result<u32>, O::Output) + Send + 'static,
    {
        self.queue_remote(op, Some(deadline), callback)
    }

    fn queue_remote<O, F>(
        &self,
        op: O,
        deadline: Option<Instant>,
        callback: F,
    ) -> io::Result<RemoteOpId>
    where
        O: Op + Send,
        F: FnOnce(io::Result<u32>, O::Output) + Send + 'static,
    {
        let id = NEXT_REMOTE_OP.fetch_add(1, Ordering::Relaxed);
        let ready = Arc::clone(&self.ready);
        self.execute(move |h| {
            // The op's entry goes when its callback runs: after that, the
            // id cancels nothing.
            let forget = Arc::clone(&ready);
            let callback = move |res: io::Result<u32>, output: O::Output| {
                lock(&forget.inbox.queued).remove(&id);
                callback(res, output);
            };
            if let Some(op) = h.queue_or_call(op, deadline, callback) {
                // (Its callback cannot have run yet: callbacks run as the
                // reactor reaps, never within the queueing.)
                lock(&ready.inbox.queued).insert(id, op);
            }
        })?;
        Ok(RemoteOpId(id))
    }

    /// Cancels the op that [`queue`](Remote::queue) or
    /// [`queue_with_deadline`](Remote::queue_with_deadline) (of any
    /// `Remote` of this reactor) returned `id` for, on the reactor's
    /// thread, as [`Handle::cancel`] does: its callback runs with the
    /// op's result (`ECANCELED` for an op the cancel reached). An id whose
    /// op has completed, or of another reactor's op, cancels nothing. A
    /// cancel sent after the queue, from any thread, reaches the reactor
    /// after it.
    pub fn cancel_queued(&self, id: RemoteOpId) -> io::Result<()> {
        let ready = Arc::clone(&self.ready);
        self.execute(move |h| {
            let op = lock(&ready.inbox.queued).remove(&id.0);
            if let Some(op) = op {
                // As for `cancel`: a ring that fails to take the request
                // fails the reactor's next submit, which reports it.
                let _ = h.cancel(op);
            }
        })
    }

    /// Cancels the op `id` (as [`Handle::cancel`]: an id whose op has
    /// completed cancels nothing), on the reactor's thread.
    pub fn cancel(&self, id: OpId) -> io::Result<()> {
        self.execute(move |h| {
            // A ring that fails to take the cancel request fails the
            // reactor's next submit, which reports it.
            let _ = h.cancel(id);
        })
    }

    /// Spawns `task` on the reactor's executor (as [`Handle::spawn`]), and
    /// returns a handle that awaits its output from any thread, or aborts
    /// it. The task is sent to the reactor's thread, so it is `Send`; one that
    /// uses the reactor's [`Handle`] (which stays on that thread) is made
    /// there by [`spawn_with`](Remote::spawn_with).
    ///
    /// An error when the reactor has shut down; `task` is dropped then,
    /// on this thread, never polled. A task accepted as the reactor shuts
    /// down is dropped unpolled on its thread, and its handle resolves to
    /// an error whose [`is_dropped`](crate::reactor::JoinError::is_dropped) is true.
    pub fn spawn<F>(&self, task: F) -> io::Result<RemoteJoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (start, handle) = join::remote_joinable(self.ready.thread);
        let task = start.start(task);
        self.execute(move |h| h.spawn_detached(task))?;
        Ok(handle)
    }

    /// Spawns the future `make` returns, called on the reactor's thread
    /// with a handle to the reactor, and returns a handle that awaits its
    /// output from any thread, or aborts it: the future need not be
    /// `Send` (it may hold the reactor's [`Handle`], a
    /// [`SharedFd`](crate::reactor::SharedFd), `uring::net` sockets), only
    /// `make` and the output cross threads.
    ///
    /// An error when the reactor has shut down; `make` is dropped then,
    /// on this thread, never called. The handle resolves to an error whose
    /// [`is_dropped`](crate::reactor::JoinError::is_dropped) is true if the reactor shuts
    /// down before it calls `make` (or drops the task unpolled), and whose
    /// [`is_panic`](crate::reactor::JoinError::is_panic) is true if `make` panics (the
    /// panic goes on, on the reactor's thread, as a panic of a closure
    /// given to [`execute`](Remote::execute) does).
    pub fn spawn_with<M, F>(&self, make: M) -> io::Result<RemoteJoinHandle<F::Output>>
    where
        M: FnOnce(&Handle) -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let (start, handle) = join::remote_joinable(self.ready.thread);
        self.execute(move |h| h.spawn_detached(start.start_with(|| make(h))))?;
        Ok(handle)
    }

    /// Shuts the reactor down (as [`Handle::shutdown`]), on its thread.
    pub fn shutdown(&self) -> io::Result<()> {
        self.execute(|h| h.shutdown())
    }

    /// Ends the reactor's wait for completions (or wakes its tokio driver
    /// task, if that is idle), so that it looks at its inbox.
    fn wake(&self) {
        self.ready.notify();
    }
}

impl Clone for Remote {
    fn clone(&self) -> Remote {
        Remote::new(Arc::clone(&self.ready))
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if self.ready.inbox.remotes.fetch_sub(1, Ordering::SeqCst) == 1 {
            // The last one: a run that served only remotes may end now.
            self.wake();
        }
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("shut_down", &lock(&self.ready.inbox.jobs).closed)
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// A handle for other threads (see [`Remote`]).
    pub fn remote(&self) -> Remote {
        Remote::new(Arc::clone(&self.shared.exec.ready))
    }

    /// Queues `op` with `callback` and returns its id; if it cannot be
    /// queued, runs `callback` with the error and the op's output for a
    /// failed op.
    fn queue_or_call<O, F>(&self, op: O, deadline: Option<Instant>, callback: F) -> Option<OpId>
    where
        O: Op,
        F: FnOnce(io::Result<u32>, O::Output) + 'static,
    {
        let started = self.start_or_return(
            crate::reactor::cell::CallbackCell { op, f: callback },
            deadline.map(crate::reactor::core::Deadline::new),
        );
        match started {
            Ok(id) => Some(id),
            Err((e, cell)) => {
                let res = -e.raw_os_error().unwrap_or(libc::ECANCELED);
                let output = cell.op.complete(Completion::new(res, 0));
                (cell.f)(Err(e), output);
                None
            }
        }
    }
}
