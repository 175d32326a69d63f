//! The cost of the reactor's safe loop: the same op, in flight 32 at a
//! time, through `Ring::push_unchecked` (the caller keeps the memory and
//! matches completions to it by `user_data`) and through the reactor (the
//! op owns its memory; a callback gets it back and queues the next op).
//!
//! Both loops keep `QD` ops in flight and queue one more for each
//! completion until `total` have completed; both check every result.

use std::cell::Cell;
use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::rc::Rc;

use uring::Ring;
use uring::reactor::{Handle, Reactor, SharedFd, ops};

/// Ops in flight.
pub const QD: u64 = 32;
/// The ring's size.
pub const ENTRIES: u32 = 64;
/// The size of each read.
pub const BLOCK: usize = 4096;
/// The file's size: reads cycle through it, from the page cache.
pub const FILE: u64 = 1 << 20;

/// NOPs through `push_unchecked`; returns how many completed.
pub fn nop_push(total: u64) -> io::Result<u64> {
    let mut ring = Ring::new(ENTRIES)?;
    let mut queued = 0;
    let mut done = 0;
    while queued < QD.min(total) {
        // SAFETY: a NOP points to no memory.
        unsafe { ring.push_unchecked(uring::ops::Nop::new().user_data(queued)) }
            .map_err(uring::Error::from)?;
        queued += 1;
    }
    while done < total {
        ring.submit_and_wait(1)?;
        let (mut sq, completions) = ring.split();
        for cqe in completions {
            if cqe.res() != 0 || cqe.user_data() >= QD {
                return Err(io::Error::other(format!("a bad NOP completion: {cqe:?}")));
            }
            done += 1;
            if queued < total {
                // SAFETY: as above.
                unsafe { sq.push_unchecked(uring::ops::Nop::new().user_data(cqe.user_data())) }
                    .map_err(uring::Error::from)?;
                queued += 1;
            }
        }
    }
    Ok(done)
}

/// The loop's state, shared by the reactor's callbacks.
struct Counts {
    queued: Cell<u64>,
    done: Cell<u64>,
    total: u64,
    failed: Cell<bool>,
}

fn queue_nop(h: Handle, counts: Rc<Counts>) {
    let next = h.clone();
    let queued = h.queue(ops::Nop, move |result, ()| {
        if result.ok() != Some(0) {
            counts.failed.set(true);
        }
        counts.done.set(counts.done.get() + 1);
        if counts.queued.get() < counts.total {
            counts.queued.set(counts.queued.get() + 1);
            queue_nop(next, counts);
        }
    });
    if queued.is_err() {
        std::process::abort();
    }
}

/// NOPs through the reactor, with a callback each; returns how many
/// completed.
pub fn nop_reactor(total: u64) -> io::Result<u64> {
    let reactor = Reactor::from_ring(Ring::new(ENTRIES)?)?;
    let counts = Rc::new(Counts {
        queued: Cell::new(0),
        done: Cell::new(0),
        total,
        failed: Cell::new(false),
    });
    while counts.queued.get() < QD.min(total) {
        counts.queued.set(counts.queued.get() + 1);
        queue_nop(reactor.handle(), counts.clone());
    }
    reactor.run()?;
    if counts.failed.get() {
        return Err(io::Error::other("a NOP failed"));
    }
    Ok(counts.done.get())
}

/// A file of `FILE` bytes, in the page cache.
pub fn test_file() -> io::Result<std::fs::File> {
    let mut file = tempfile::tempfile()?;
    let block: Vec<u8> = (0..BLOCK).map(|i| i as u8).collect();
    for _ in 0..FILE / BLOCK as u64 {
        file.write_all(&block)?;
    }
    file.sync_all()?;
    Ok(file)
}

fn next_offset(n: u64) -> u64 {
    (n * BLOCK as u64) % FILE
}

/// 4 KiB reads through `push_unchecked`, each into one of `QD` buffers the
/// loop keeps; returns how many completed.
pub fn read_push(total: u64) -> io::Result<u64> {
    let file = test_file()?;
    let mut ring = Ring::new(ENTRIES)?;
    let mut bufs: Vec<Vec<u8>> = (0..QD).map(|_| vec![0u8; BLOCK]).collect();
    let mut queued = 0;
    let mut done = 0;
    while queued < QD.min(total) {
        let buf = &mut bufs[queued as usize][..];
        let op = uring::ops::Read::new(file.as_fd(), buf)
            .offset(next_offset(queued))
            .user_data(queued);
        // SAFETY: the buffer is not touched until the op's completion.
        unsafe { ring.push_unchecked(op) }.map_err(uring::Error::from)?;
        queued += 1;
    }
    while done < total {
        ring.submit_and_wait(1)?;
        let (mut sq, completions) = ring.split();
        for cqe in completions {
            let Some(buf) = bufs.get_mut(cqe.user_data() as usize) else {
                return Err(io::Error::other("a completion of no read"));
            };
            if cqe.res() != BLOCK as i32 {
                return Err(io::Error::other(format!("a short read: {cqe:?}")));
            }
            done += 1;
            if queued < total {
                let op = uring::ops::Read::new(file.as_fd(), &mut buf[..])
                    .offset(next_offset(queued))
                    .user_data(cqe.user_data());
                // SAFETY: as above.
                unsafe { sq.push_unchecked(op) }.map_err(uring::Error::from)?;
                queued += 1;
            }
        }
    }
    Ok(done)
}

fn queue_read(h: Handle, file: SharedFd, buf: Vec<u8>, counts: Rc<Counts>) {
    let offset = next_offset(counts.queued.get());
    counts.queued.set(counts.queued.get() + 1);
    let next = h.clone();
    let op = ops::Read::new(&file, buf, offset);
    let queued = h.queue(op, move |result, buf| {
        if result.ok() != Some(BLOCK as u32) {
            counts.failed.set(true);
        }
        counts.done.set(counts.done.get() + 1);
        if counts.queued.get() < counts.total {
            queue_read(next, file, buf, counts);
        }
    });
    if queued.is_err() {
        std::process::abort();
    }
}

/// 4 KiB reads through the reactor: each read owns its buffer, which its
/// callback gets back and gives to the next read.
pub fn read_reactor(total: u64) -> io::Result<u64> {
    let file = SharedFd::new(test_file()?);
    let reactor = Reactor::from_ring(Ring::new(ENTRIES)?)?;
    let counts = Rc::new(Counts {
        queued: Cell::new(0),
        done: Cell::new(0),
        total,
        failed: Cell::new(false),
    });
    for _ in 0..QD.min(total) {
        queue_read(
            reactor.handle(),
            file.clone(),
            vec![0u8; BLOCK],
            counts.clone(),
        );
    }
    reactor.run()?;
    if counts.failed.get() {
        return Err(io::Error::other("a read failed"));
    }
    Ok(counts.done.get())
}

/// The whole of a driver: `MODE TOTAL`, with MODE `push` or `reactor`;
/// prints `ops=N secs=S mops=M`. Any other command line (an argument that
/// is not UTF-8, one too many) gets the usage and status 2.
pub fn drive(
    name: &str,
    push: fn(u64) -> io::Result<u64>,
    reactor: fn(u64) -> io::Result<u64>,
) -> std::process::ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    // `None` if any argument is not UTF-8.
    let args: Option<Vec<&str>> = args.iter().map(|a| a.to_str()).collect();
    let parsed = match args.as_deref() {
        Some([mode, total]) => total.parse::<u64>().ok().map(|total| (*mode, total)),
        _ => None,
    };
    let (run, total) = match parsed {
        Some(("push", total)) => (push, total),
        Some(("reactor", total)) => (reactor, total),
        _ => {
            eprintln!("usage: {name} push|reactor TOTAL");
            return std::process::ExitCode::from(2);
        }
    };
    let start = std::time::Instant::now();
    match run(total) {
        Ok(done) if done == total => match crate::nop::report(total, start.elapsed().as_secs_f64())
        {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: stdout: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Ok(done) => {
            eprintln!("{name}: {done} of {total} ops completed");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
