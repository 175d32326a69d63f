//! The blocking pool: threads that run the functions of
//! [`Handle::spawn_blocking`](crate::reactor::Handle::spawn_blocking), one
//! pool for the process, which every reactor shares.
//!
//! A job goes to an idle thread, or to a new one while fewer than
//! [`MAX_THREADS`] run; past that it waits in the queue. A thread with
//! nothing to do for [`KEEP_ALIVE`] ends.

use std::collections::VecDeque;
use std::io;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// The most threads the pool runs at once.
pub(crate) const MAX_THREADS: usize = 512;

/// How long an idle thread waits for a job before it ends.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

/// A queued job and the number its caller knows it by.
type Queued = (u64, Job);

/// The pool of the process.
struct Pool {
    state: Mutex<State>,
    /// Signalled once per job queued while threads wait.
    work: Condvar,
}

struct State {
    jobs: VecDeque<Queued>,
    /// The number the next job is queued under.
    next: u64,
    /// Threads running, waiting ones included.
    threads: usize,
    /// Threads inside their wait for a job (woken ones included until
    /// they are back under the lock).
    waiting: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::new)
}

/// Queues `job` for a thread of the process's pool: see
/// [`Pool::execute`].
pub(crate) fn execute(job: Job) -> Result<(), (io::Error, Job)> {
    pool().execute(job, |pool| {
        std::thread::Builder::new()
            .name("uring-blocking".into())
            .spawn(move || pool.worker())
            .map(drop)
    })
}

impl Pool {
    fn new() -> Pool {
        Pool {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                next: 0,
                threads: 0,
                waiting: 0,
            }),
            work: Condvar::new(),
        }
    }

    /// The state; a job never runs under its lock, so it is never
    /// poisoned by one (and a poisoned lock's state is whole).
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`: a waiting thread is woken for it, or a new thread
    /// started with `spawn` when more jobs wait than threads do. No job
    /// is left without a thread: a thread leaves only with the queue
    /// empty, and only under the lock that queues.
    ///
    /// Fails only when no thread runs and none could be started: this
    /// caller's job is then handed back unrun, and the jobs other callers
    /// queued meanwhile (whose calls returned `Ok`, their own starts
    /// having failed while a thread still counted) are dropped unrun,
    /// which ends their handles as dropped rather than leaving them
    /// queued with no thread to run them.
    fn execute(
        &'static self,
        job: Job,
        spawn: impl FnOnce(&'static Pool) -> io::Result<()>,
    ) -> Result<(), (io::Error, Job)> {
        let mut state = self.lock();
        let id = state.next;
        state.next += 1;
        state.jobs.push_back((id, job));
        if state.jobs.len() <= state.waiting || state.threads >= MAX_THREADS {
            // A waiting thread takes it, or a running one once done with
            // its own.
            drop(state);
            self.work.notify_one();
            return Ok(());
        }
        state.threads += 1;
        drop(state);
        let Err(e) = spawn(self) else {
            return Ok(());
        };
        let mut state = self.lock();
        state.threads -= 1;
        if state.threads > 0 {
            // A running thread takes the job; one starting that fails
            // in turn comes here with the queue.
            return Ok(());
        }
        let stranded = std::mem::take(&mut state.jobs);
        drop(state);
        let mut own = None;
        for (queued, job) in stranded {
            if queued == id {
                own = Some(job);
            } else {
                // Outside the lock: ending a handle wakes its waker.
                drop(job);
            }
        }
        match own {
            Some(job) => Err((e, job)),
            // A thread took it before it ended.
            None => Ok(()),
        }
    }

    /// A thread of the pool: runs jobs until none comes for
    /// [`KEEP_ALIVE`].
    fn worker(&self) {
        let mut state = self.lock();
        loop {
            if let Some((_, job)) = state.jobs.pop_front() {
                drop(state);
                // The job catches its own panics (`BlockingJob::run`).
                job();
                state = self.lock();
                continue;
            }
            state.waiting += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, KEEP_ALIVE)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.waiting -= 1;
            if timeout.timed_out() && state.jobs.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn leaked() -> &'static Pool {
        Box::leak(Box::new(Pool::new()))
    }

    fn refused(_: &'static Pool) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EAGAIN))
    }

    /// A job that counts its runs and its drops into `counts`.
    fn counted(counts: &Arc<[AtomicUsize; 2]>) -> Job {
        struct Dropped(Arc<[AtomicUsize; 2]>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0[1].fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Dropped(Arc::clone(counts));
        Box::new(move || {
            dropped.0[0].fetch_add(1, Ordering::SeqCst);
        })
    }

    #[test]
    fn a_refused_start_with_no_thread_hands_back_this_caller_s_job() {
        let pool = leaked();
        let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let (e, job) = pool.execute(counted(&counts), refused).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN));
        assert!(pool.lock().jobs.is_empty());
        assert_eq!(pool.lock().threads, 0);
        job();
        assert_eq!(counts[0].load(Ordering::SeqCst), 1);
        assert_eq!(counts[1].load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_last_refused_start_returns_its_own_job_and_drops_the_stranded_ones() {
        let pool = leaked();
        let first = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let second = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        // The first caller's start is under way (counted, not yet failed)
        // while the second caller queues and starts its own.
        let own = pool.execute(counted(&first), |pool| {
            let inner = pool.execute(counted(&second), refused);
            // Its start failed while the first still counted: `Ok`, its
            // job left to a thread.
            assert!(inner.is_ok());
            assert_eq!(pool.lock().jobs.len(), 2);
            refused(pool)
        });
        // The first caller's start fails with no thread left: its own job
        // comes back, the second's is dropped unrun, nothing stays queued.
        let (_, job) = own.unwrap_err();
        assert_eq!(second[0].load(Ordering::SeqCst), 0);
        assert_eq!(second[1].load(Ordering::SeqCst), 1);
        assert_eq!(first[1].load(Ordering::SeqCst), 0);
        assert!(pool.lock().jobs.is_empty());
        assert_eq!(pool.lock().threads, 0);
        drop(job);
        assert_eq!(first[0].load(Ordering::SeqCst), 0);
        assert_eq!(first[1].load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_refused_start_beside_a_running_thread_leaves_the_job_to_it() {
        let pool = leaked();
        let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        // One thread is counted as running, busy with a job of its own.
        pool.lock().threads = 1;
        assert!(pool.execute(counted(&counts), refused).is_ok());
        assert_eq!(pool.lock().jobs.len(), 1);
        assert_eq!(pool.lock().threads, 1);
        // That thread takes it once free.
        let worker = std::thread::spawn(move || pool.worker());
        while counts[0].load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        assert_eq!(counts[1].load(Ordering::SeqCst), 1);
        drop(worker);
    }
}
