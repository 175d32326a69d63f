//! A minimal single-threaded executor for the reactor's own futures: tasks
//! are polled on the reactor's thread, between rounds of completions (by
//! `run` and `run_until`, or by the tokio driver's poll).

use crate::reactor::remote::Inbox;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Wake, Waker};

/// The id the future of `run_until` is woken under.
pub(crate) const MAIN: u32 = u32::MAX;

/// The tasks woken since the executor last looked, shared with their
/// wakers, which may be on other threads.
pub(crate) struct ReadyQueue {
    queue: Mutex<Vec<u32>>,
    /// Whether `queue` holds an id: set and cleared under its lock, read
    /// without it, so that a round with no task woken takes no lock.
    /// SeqCst, against `parked` (and the tokio driver's idle mark): a
    /// waker sets it before it looks at `parked`, the reactor sets
    /// `parked` before it looks at this.
    woken: AtomicBool,
    /// The reactor waits for completions: a wake from another thread must
    /// end the wait, through `eventfd`.
    pub(crate) parked: AtomicBool,
    /// Polled by the reactor while it waits (see `Core::arm_wakeup`).
    pub(crate) eventfd: OwnedFd,
    /// What other threads sent through a [`Remote`](crate::reactor::Remote).
    pub(crate) inbox: Inbox,
    /// The reactor's thread (a reactor never leaves the thread that made
    /// it).
    pub(crate) thread: std::thread::ThreadId,
    /// The waker of the task that drives the reactor for tokio
    /// ([`TokioDriver`](crate::reactor::TokioDriver)), to wake when a task
    /// is woken or a job sent while it is idle.
    #[cfg(feature = "tokio")]
    driver: Mutex<Option<Waker>>,
    /// That task is outside its poll, or about to return from it: a wake
    /// must go through its waker. SeqCst, as `parked`: a waker sets
    /// `woken` (or a sender the inbox's flag) before it looks at this, the
    /// driver sets this before it looks at them again. Taken (set back) by
    /// the wake that wakes the driver: the wakes after it, until the
    /// driver's next poll, have nothing to add.
    #[cfg(feature = "tokio")]
    driver_idle: AtomicBool,
}

impl ReadyQueue {
    pub(crate) fn new() -> std::io::Result<ReadyQueue> {
        // SAFETY: eventfd(2) with valid flags; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ReadyQueue {
            queue: Mutex::new(Vec::new()),
            woken: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            // SAFETY: a new descriptor that nothing else owns.
            eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
            inbox: Inbox::default(),
            thread: std::thread::current().id(),
            #[cfg(feature = "tokio")]
            driver: Mutex::new(None),
            #[cfg(feature = "tokio")]
            driver_idle: AtomicBool::new(false),
        })
    }

    fn push(&self, id: u32) {
        {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.push(id);
            self.woken.store(true, Ordering::SeqCst);
        }
        self.notify();
    }

    /// Ends the reactor's wait, if it waits, or wakes the tokio task that
    /// drives it, if that is idle: something was queued for it.
    #[inline]
    pub(crate) fn notify(&self) {
        if self.parked.load(Ordering::SeqCst) {
            let one = 1u64;
            // SAFETY: writes 8 bytes from `one` to the queue's own eventfd,
            // open as long as the queue.
            let _ =
                unsafe { libc::write(self.eventfd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
        #[cfg(feature = "tokio")]
        if self.driver_idle.load(Ordering::SeqCst) {
            self.wake_driver();
        }
    }

    /// Wakes the tokio driver, unless another wake took its idle mark
    /// first (and woke it).
    #[cfg(feature = "tokio")]
    #[cold]
    #[inline(never)]
    fn wake_driver(&self) {
        if self.driver_idle.swap(false, Ordering::SeqCst) {
            // Cloned out first: the waker runs with the lock released.
            let driver = self
                .driver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(driver) = driver {
                driver.wake();
            }
        }
    }

    /// Records the waker of the task that drives the reactor for tokio.
    /// The waker is cloned, and the old one dropped, with the lock
    /// released: they are the program's code, which may wake a task or
    /// send a job (and so take the lock).
    #[cfg(feature = "tokio")]
    pub(crate) fn set_driver(&self, waker: &Waker) {
        let lock = || self.driver.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(&*lock(), Some(w) if w.will_wake(waker)) {
            return;
        }
        let waker = waker.clone();
        let old = lock().replace(waker);
        drop(old);
    }

    /// Marks the tokio driver idle (it returns from its poll: wakes must
    /// go through its waker), or not (it polls, and looks at the woken
    /// tasks and the jobs itself before it returns).
    #[cfg(feature = "tokio")]
    pub(crate) fn set_driver_idle(&self, idle: bool) {
        self.driver_idle.store(idle, Ordering::SeqCst);
    }

    /// Blocks until a task is woken, without the ring (which a reactor
    /// that has shut down no longer waits on).
    pub(crate) fn park(&self) {
        self.parked.store(true, Ordering::SeqCst);
        if self.is_empty() && !self.inbox.has_jobs() {
            let mut fd = libc::pollfd {
                fd: self.eventfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid `pollfd`, naming the queue's own eventfd.
            // An error (`EINTR`) ends the wait early: the caller looks again.
            let _ = unsafe { libc::poll(&mut fd, 1, -1) };
            let mut word = 0u64;
            // SAFETY: reads 8 bytes into `word` from the queue's own
            // non-blocking eventfd.
            let _ =
                unsafe { libc::read(self.eventfd.as_raw_fd(), (&mut word as *mut u64).cast(), 8) };
        }
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Moves the woken ids into `out`, which must be empty.
    pub(crate) fn take(&self, out: &mut Vec<u32>) {
        debug_assert!(out.is_empty());
        if !self.woken.load(Ordering::SeqCst) {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *queue, out);
        self.woken.store(false, Ordering::SeqCst);
    }

    /// Whether no task was woken since the last [`take`](Self::take).
    pub(crate) fn is_empty(&self) -> bool {
        !self.woken.load(Ordering::SeqCst)
    }
}

/// A task's waker: queues the task once until it is polled again.
pub(crate) struct TaskWaker {
    id: u32,
    pub(crate) scheduled: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl TaskWaker {
    pub(crate) fn new(id: u32, ready: Arc<ReadyQueue>) -> Arc<TaskWaker> {
        Arc::new(TaskWaker {
            id,
            scheduled: AtomicBool::new(true),
            ready,
        })
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.ready.push(self.id);
        }
    }
}

struct Task {
    future: Pin<Box<dyn Future<Output = ()>>>,
    flag: Arc<TaskWaker>,
    waker: Waker,
}

/// The tasks spawned on a reactor.
pub(crate) struct Executor {
    tasks: RefCell<Vec<Option<Task>>>,
    free: RefCell<Vec<u32>>,
    live: Cell<usize>,
    /// How many times the tasks were cleared: a task polled across a
    /// clear no longer owns its id.
    epoch: Cell<u64>,
    pub(crate) ready: Arc<ReadyQueue>,
}

impl Executor {
    pub(crate) fn new(ready: Arc<ReadyQueue>) -> Executor {
        Executor {
            tasks: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            live: Cell::new(0),
            epoch: Cell::new(0),
            ready,
        }
    }

    /// Tasks spawned and not finished.
    pub(crate) fn live(&self) -> usize {
        self.live.get()
    }

    pub(crate) fn spawn(&self, future: Pin<Box<dyn Future<Output = ()>>>) {
        let reused = self.free.borrow_mut().pop();
        let mut tasks = self.tasks.borrow_mut();
        let id = reused.unwrap_or(tasks.len() as u32);
        let flag = TaskWaker::new(id, Arc::clone(&self.ready));
        let task = Task {
            future,
            waker: Waker::from(Arc::clone(&flag)),
            flag,
        };
        match tasks.get_mut(id as usize) {
            Some(entry) => *entry = Some(task),
            None => tasks.push(Some(task)),
        }
        self.live.set(self.live.get() + 1);
        drop(tasks);
        self.ready.push(id);
    }

    /// Polls task `id` if it exists.
    pub(crate) fn poll(&self, id: u32) {
        let task = self
            .tasks
            .borrow_mut()
            .get_mut(id as usize)
            .and_then(Option::take);
        let Some(mut task) = task else {
            return;
        };
        task.flag.scheduled.store(false, Ordering::Release);
        let mut cx = Context::from_waker(&task.waker);
        let epoch = self.epoch.get();
        // A task that panics is gone: counted out, its id free again.
        let ends = Ends {
            exec: self,
            id,
            epoch,
        };
        if task.future.as_mut().poll(&mut cx).is_ready() {
            drop(ends);
            drop(task);
            return;
        }
        std::mem::forget(ends);
        if self.epoch.get() != epoch {
            // The tasks were cleared while this one ran: it goes too (its
            // id may name a task spawned since).
            self.live.set(self.live.get().saturating_sub(1));
            drop(task);
            return;
        }
        // Its place stayed empty while it ran: no other task takes the id
        // of a live one.
        let mut tasks = self.tasks.borrow_mut();
        match tasks.get_mut(id as usize) {
            Some(entry @ None) => *entry = Some(task),
            _ => {
                drop(tasks);
                self.live.set(self.live.get().saturating_sub(1));
                drop(task);
            }
        }
    }

    /// Polls the tasks of `woken` (but the future of `run_until`) and
    /// empties it. Should one panic, those not yet polled are woken again:
    /// their wake is not lost with the run.
    pub(crate) fn poll_woken(&self, woken: &mut Vec<u32>) {
        let mut round = Round {
            ready: &self.ready,
            woken,
            next: 0,
        };
        while let Some(&id) = round.woken.get(round.next) {
            round.next += 1;
            if id != MAIN {
                self.poll(id);
            }
        }
    }

    /// Counts task `id`, polled in `epoch`, out: it finished, or panicked.
    /// Its id is free again, unless the tasks were cleared meanwhile (the
    /// id may then name a task spawned since).
    fn end(&self, id: u32, epoch: u64) {
        self.live.set(self.live.get().saturating_sub(1));
        if self.epoch.get() == epoch {
            self.free.borrow_mut().push(id);
        }
    }

    /// Drops every task (at shutdown).
    pub(crate) fn clear(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        self.free.borrow_mut().clear();
        self.epoch.set(self.epoch.get() + 1);
        let dropped = tasks.iter().filter(|t| t.is_some()).count();
        self.live.set(self.live.get().saturating_sub(dropped));
        // One at a time: a task whose drop panics leaves the others to be
        // dropped, and its panic goes on after them (a second panic while
        // the first unwound the vector's drop would abort the process).
        super::run_each(tasks, drop);
    }
}

/// Counts a task out when dropped: when its poll returns `Ready`, or
/// unwinds.
struct Ends<'a> {
    exec: &'a Executor,
    id: u32,
    epoch: u64,
}

impl Drop for Ends<'_> {
    fn drop(&mut self) {
        self.exec.end(self.id, self.epoch);
    }
}

/// The woken tasks a run polls in turn: when dropped (the round is over,
/// or a task panicked), those not yet polled are queued again.
struct Round<'a> {
    ready: &'a ReadyQueue,
    woken: &'a mut Vec<u32>,
    next: usize,
}

impl Drop for Round<'_> {
    fn drop(&mut self) {
        if self.next < self.woken.len() {
            let mut queue = self
                .ready
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            queue.extend_from_slice(&self.woken[self.next..]);
            self.ready.woken.store(true, Ordering::SeqCst);
        }
        self.woken.clear();
    }
}
