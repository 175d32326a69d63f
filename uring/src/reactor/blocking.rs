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

struct Pool {
    state: Mutex<State>,
    /// Signalled once per job queued while threads wait.
    work: Condvar,
}

struct State {
    jobs: VecDeque<Job>,
    /// Threads running, waiting ones included.
    threads: usize,
    /// Threads inside their wait for a job (woken ones included until
    /// they are back under the lock).
    waiting: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State {
            jobs: VecDeque::new(),
            threads: 0,
            waiting: 0,
        }),
        work: Condvar::new(),
    })
}

impl Pool {
    /// The state; a job never runs under its lock, so it is never
    /// poisoned by one (and a poisoned lock's state is whole).
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues `job` for a thread of the pool: a waiting thread is woken for
/// it, or a new thread started when more jobs wait than threads do. No
/// job is left without a thread: a thread leaves only with the queue
/// empty, and only under the lock that queues. Fails only when no thread
/// runs and none can be started: the job is then handed back, unrun.
pub(crate) fn execute(job: Job) -> Result<(), (io::Error, Job)> {
    let pool = pool();
    let mut state = pool.lock();
    state.jobs.push_back(job);
    if state.jobs.len() <= state.waiting || state.threads >= MAX_THREADS {
        // A waiting thread takes it, or a running one once done with its
        // own.
        drop(state);
        pool.work.notify_one();
        return Ok(());
    }
    state.threads += 1;
    drop(state);
    let started = std::thread::Builder::new()
        .name("uring-blocking".into())
        .spawn(worker);
    if let Err(e) = started {
        let mut state = pool.lock();
        state.threads -= 1;
        if state.threads == 0 {
            // No thread would ever take a queued job. This caller's job
            // is in the queue unless another caller's thread took it:
            // whichever job is last goes back to this caller unrun (a
            // caller whose job was taken returned `Ok` already).
            if let Some(job) = state.jobs.pop_back() {
                return Err((e, job));
            }
        }
    }
    Ok(())
}

/// A thread of the pool: runs jobs until none comes for [`KEEP_ALIVE`].
fn worker() {
    let pool = pool();
    let mut state = pool.lock();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            // The job catches its own panics (`BlockingJob::run`).
            job();
            state = pool.lock();
            continue;
        }
        state.waiting += 1;
        let (next, timeout) = pool
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
