//! Random walks over the reactor: receives with and without deadlines,
//! NOPs queued from callbacks, timeouts, futures dropped in flight, cancels
//! by ids live and stale, and bytes arriving in between. Every op queued
//! with a callback must see it called exactly once, with its own buffer
//! back; a cancel must report an op in flight exactly when its callback has
//! not run yet.
//!
//! The walks check lengths and capacities, never the bytes the kernel
//! wrote, so that they also run under memcheck.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::reactor::ops::{Nop, Recv, Timeout};
use uring::reactor::{Handle, OpId, Reactor, SharedFd};
use uring_tests::Rng;

/// What each callback saw, by the token it was queued with.
#[derive(Default)]
struct Seen {
    /// Token -> (calls, result as errno or length, buffer capacity).
    calls: HashMap<u64, (u32, Result<u32, i32>, usize)>,
}

type Shared = Rc<RefCell<Seen>>;

const CAPACITY: usize = 8;

fn record(seen: &Shared, token: u64, result: std::io::Result<u32>, cap: usize) {
    let mut seen = seen.borrow_mut();
    let entry = seen.calls.entry(token).or_insert((0, Ok(0), 0));
    entry.0 += 1;
    entry.1 = result.map_err(|e| e.raw_os_error().unwrap_or(-1));
    entry.2 = cap;
}

fn queue_recv(
    h: &Handle,
    fd: &SharedFd,
    token: u64,
    seen: &Shared,
    deadline: Option<Instant>,
) -> OpId {
    let seen = seen.clone();
    let op = Recv::new(fd, Vec::with_capacity(CAPACITY));
    let callback = move |result: std::io::Result<u32>, buf: Vec<u8>| {
        if let Ok(n) = result {
            assert_eq!(
                buf.len(),
                n as usize,
                "token {token}: the length is the result"
            );
        }
        record(&seen, token, result, buf.capacity());
    };
    match deadline {
        None => h.queue(op, callback),
        Some(at) => h.queue_with_deadline(op, at, callback),
    }
    .unwrap()
}

/// A NOP whose callback, `depth` times over, queues the next one.
fn queue_nops(
    h: &Handle,
    token: u64,
    depth: u32,
    seen: &Shared,
    tokens: &Rc<RefCell<u64>>,
) -> OpId {
    let (h2, seen2, tokens2) = (h.clone(), seen.clone(), tokens.clone());
    h.queue(Nop, move |result, ()| {
        record(&seen2, token, result, 0);
        if depth > 0 {
            let next = {
                let mut t = tokens2.borrow_mut();
                *t += 1;
                *t
            };
            queue_nops(&h2, next, depth - 1, &seen2, &tokens2);
        }
    })
    .unwrap()
}

fn walk(seed: u64, steps: u32) {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut rng = Rng(seed | 1);
    let pairs: Vec<(SharedFd, UnixStream)> = (0..4)
        .map(|_| {
            let (a, b) = UnixStream::pair().unwrap();
            (SharedFd::new(a), b)
        })
        .collect();
    let seen: Shared = Rc::default();
    // Tokens handed out, by callbacks too (the NOP chains).
    let tokens = Rc::new(RefCell::new(0u64));
    let next_token = || {
        let mut t = tokens.borrow_mut();
        *t += 1;
        *t
    };
    // Every id a queue returned, with its token.
    let mut ids: Vec<(OpId, u64)> = Vec::new();
    for step in 0..steps {
        match rng.below(10) {
            0 | 1 => {
                let (fd, _) = &pairs[rng.below(4) as usize];
                let token = next_token();
                ids.push((queue_recv(&h, fd, token, &seen, None), token));
            }
            2 => {
                let (fd, _) = &pairs[rng.below(4) as usize];
                let token = next_token();
                let at = Instant::now() + Duration::from_micros(rng.below(3000));
                ids.push((queue_recv(&h, fd, token, &seen, Some(at)), token));
            }
            3 => {
                let token = next_token();
                let depth = rng.below(4) as u32;
                ids.push((queue_nops(&h, token, depth, &seen, &tokens), token));
            }
            4 => {
                // A future dropped in flight: its op is cancelled, its buffer
                // kept until the kernel is done with it.
                let (fd, _) = &pairs[rng.below(4) as usize];
                let mut future = Box::pin(h.op(Recv::new(fd, Vec::with_capacity(CAPACITY))));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                let _ = future.as_mut().poll(&mut cx);
                drop(future);
            }
            5 => {
                let token = next_token();
                let after = Duration::from_micros(rng.below(2000));
                let seen = seen.clone();
                let id = h
                    .queue(Timeout::new(after), move |result, ()| {
                        record(&seen, token, result, 0)
                    })
                    .unwrap();
                ids.push((id, token));
            }
            6 if !ids.is_empty() => {
                // Cancel by an id, live or stale: in flight exactly when its
                // callback has not run.
                let (id, token) = ids[rng.below(ids.len() as u64) as usize];
                let ran = seen.borrow().calls.contains_key(&token);
                let cancelled = h.cancel(id).unwrap();
                assert_eq!(
                    cancelled, !ran,
                    "seed {seed:#x} step {step}: cancel of token {token} (ran: {ran})"
                );
            }
            7 => {
                let n = 1 + rng.below(CAPACITY as u64 * 2) as usize;
                let (_, peer) = &pairs[rng.below(4) as usize];
                (&*peer).write_all(&vec![0x5a; n]).unwrap();
            }
            8 => {
                // Let the reactor work for a moment.
                let (result, ()) = reactor.run_until(h.op(Nop)).unwrap();
                assert_eq!(result.unwrap(), 0);
            }
            _ => {
                // Let it work for a while, long enough for some deadlines
                // and timeouts to fire.
                let after = Duration::from_micros(rng.below(500));
                let (result, ()) = reactor.run_until(h.op(Timeout::new(after))).unwrap();
                assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ETIME));
            }
        }
    }
    // The end: whatever still waits is cancelled, and every callback runs.
    for &(id, token) in &ids {
        let ran = seen.borrow().calls.contains_key(&token);
        assert_eq!(
            h.cancel(id).unwrap(),
            !ran,
            "seed {seed:#x}: final cancel of {token}"
        );
    }
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0, "seed {seed:#x}");
    let seen = seen.borrow();
    let issued = *tokens.borrow();
    let queued_with_callbacks: Vec<u64> = ids.iter().map(|&(_, t)| t).collect();
    for token in queued_with_callbacks {
        let (calls, result, cap) = seen.calls[&token];
        assert_eq!(
            calls, 1,
            "seed {seed:#x}: token {token} called {calls} times"
        );
        if let Err(errno) = result {
            assert!(
                [libc::ECANCELED, libc::ETIME, libc::EINTR].contains(&errno),
                "seed {seed:#x}: token {token} failed with {errno}"
            );
        }
        assert!(
            cap == 0 || cap == CAPACITY,
            "token {token}: its own buffer back"
        );
    }
    // The NOP chains' later links (tokens handed out by callbacks) ran once
    // each, like the rest.
    assert!(seen.calls.values().all(|&(calls, _, _)| calls == 1));
    assert!(seen.calls.len() as u64 <= issued);
    if std::env::var_os("URING_WALK_STATS").is_some() {
        let ok = seen.calls.values().filter(|c| c.1.is_ok()).count();
        let mut errs: HashMap<i32, usize> = HashMap::new();
        for c in seen.calls.values() {
            if let Err(e) = c.1 {
                *errs.entry(e).or_default() += 1;
            }
        }
        eprintln!(
            "seed {seed:#x}: {} calls, {ok} ok, errors {errs:?}",
            seen.calls.len()
        );
    }
}

#[test]
fn random_walks_over_the_reactor_call_each_callback_once() {
    let seeds = std::env::var("URING_WALK_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8u64);
    for i in 0..seeds {
        // One watchdog per walk: a long run of seeds is not a hang.
        let _watch = uring_tests::watchdog();
        walk(0x5eed_0000_u64 + i * 0x9e37_79b9, 400);
    }
}
