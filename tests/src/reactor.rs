//! What the attacks on the reactor share: driving it until a condition,
//! and pipes whose read ends it reads (to show that no read of it is left
//! in the kernel once it is gone).

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::reactor::ops::Nop;
use uring::reactor::{Handle, Reactor, SharedFd};

/// Runs `reactor` until `done` or `bound` passes: whether `done` came.
pub fn drive_until(reactor: &Reactor, bound: Duration, done: impl Fn() -> bool) -> bool {
    let end = Instant::now() + bound;
    while !done() {
        if Instant::now() >= end {
            return false;
        }
        crate::run_for(reactor, 2);
    }
    true
}

/// Reads what the pipe behind `fd` holds now, without blocking.
pub fn pipe_bytes(fd: &OwnedFd) -> Vec<u8> {
    let mut file = File::from(fd.try_clone().unwrap());
    // SAFETY: F_GETFL on a descriptor this function owns a duplicate of; no
    // memory is passed.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above (the duplicate shares the open file description).
    let set = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
    assert_eq!(set, 0);
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading the pipe: {e}"),
        }
    }
    got
}

/// `n` pipes: the reactor's read ends, a duplicate of each read end (to
/// look at what is left in the pipe) and the write ends.
pub fn pipes(n: usize) -> (Vec<SharedFd>, Vec<OwnedFd>, Vec<File>) {
    let mut shared = Vec::new();
    let mut dups = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..n {
        let (r, w) = crate::pipe();
        dups.push(r.try_clone().unwrap());
        shared.push(SharedFd::new(r));
        writers.push(File::from(w));
    }
    (shared, dups, writers)
}

/// Writes `i`-marked bytes into each pipe, then checks that each read end
/// still holds all of them: no read of a reactor is left in the kernel to
/// take them.
pub fn assert_no_read_left(dups: &[OwnedFd], writers: &mut [File]) {
    for (i, w) in writers.iter_mut().enumerate() {
        w.write_all(&[i as u8; 5]).unwrap();
    }
    // A read left armed would take the bytes at once (task work on this
    // thread, which the reads of `pipe_bytes` run): give it the chance.
    std::thread::sleep(Duration::from_millis(20));
    for (i, dup) in dups.iter().enumerate() {
        assert_eq!(pipe_bytes(dup), [i as u8; 5], "pipe {i}: a read took bytes");
    }
}

/// A chain of NOPs on a reactor: each callback queues the next, until
/// `stop` or `until`.
pub struct Spin {
    /// The reactor the chain runs on.
    pub h: Handle,
    /// Set to end the chain (at its next callback).
    pub stop: Rc<Cell<bool>>,
    /// NOPs queued.
    pub queued: Cell<u64>,
    /// Callbacks run.
    pub called: Cell<u64>,
    /// Callbacks whose NOP did not complete with 0.
    pub failed: Cell<u64>,
    /// A wall-clock bound: the chain stops at it even if nothing else ever
    /// gets to stop it.
    pub until: Instant,
}

/// Queues the next NOP of the chain `s`, whose callback queues the one
/// after.
pub fn spin(s: &Rc<Spin>) {
    if s.stop.get() || Instant::now() >= s.until {
        return;
    }
    let next = Rc::clone(s);
    let queued = s.h.queue(Nop, move |r, ()| {
        next.called.set(next.called.get() + 1);
        if !matches!(r, Ok(0)) {
            next.failed.set(next.failed.get() + 1);
        }
        spin(&next);
    });
    if queued.is_ok() {
        s.queued.set(s.queued.get() + 1);
    }
}

/// Runs the future `f` makes, given a handle of a fresh reactor and a fresh
/// temporary directory, until it ends; asserts that nothing is left in
/// flight, and returns its output.
pub fn in_temp_dir<F, Fut, T>(f: F) -> T
where
    F: FnOnce(Handle, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let out = reactor
        .run_until(f(reactor.handle(), dir.path().to_path_buf()))
        .unwrap();
    assert_eq!(reactor.in_flight(), 0);
    out
}
