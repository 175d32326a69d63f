//! Random walks over the reactor: receives with and without deadlines,
//! NOPs queued from callbacks, timeouts, futures dropped in flight, cancels
//! by ids live and stale, and bytes arriving in between. Every op queued
//! with a callback must see it called exactly once, with its own buffer
//! back; a cancel must report an op in flight exactly when its callback has
//! not run yet.
//!
//! Also multishot polls whose callback's value must be dropped once, after
//! the op's last completion; callbacks that panic (the run's caller sees
//! the panic, the reactor goes on); tasks awaiting receives with deadlines;
//! and, for half the walks, an end by a shutdown from inside a callback.
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

/// A NOP whose callback, `depth` times over, queues the next one (until
/// the reactor shuts down).
fn queue_nops(
    h: &Handle,
    token: u64,
    depth: u32,
    seen: &Shared,
    tokens: &Rc<RefCell<u64>>,
) -> std::io::Result<OpId> {
    let (h2, seen2, tokens2) = (h.clone(), seen.clone(), tokens.clone());
    h.queue(Nop, move |result, ()| {
        record(&seen2, token, result, 0);
        if depth > 0 {
            let next = {
                let mut t = tokens2.borrow_mut();
                *t += 1;
                *t
            };
            if let Err(e) = queue_nops(&h2, next, depth - 1, &seen2, &tokens2) {
                assert!(
                    h2.is_shut_down(),
                    "a queue fails only after a shutdown: {e}"
                );
            }
        }
    })
}

/// The message of the panics the walks cause on purpose.
const PANIC: &str = "a callback of the walk panics";

/// Runs `run`, over and over while it panics with the walk's own panic
/// (another panic is the test's failure); returns what it returned and how
/// many of those panics it went through.
fn through_panics<T>(mut run: impl FnMut() -> T) -> (T, u32) {
    let mut panics = 0;
    loop {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut run)) {
            Ok(out) => return (out, panics),
            Err(payload) => {
                if payload.downcast_ref::<&str>() != Some(&PANIC) {
                    std::panic::resume_unwind(payload);
                }
                panics += 1;
            }
        }
    }
}

/// Sets its cell when dropped: a multishot callback's value.
struct DropFlag(Rc<std::cell::Cell<u32>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
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
    // Multishot polls: id, and how often its callback's value was dropped.
    let mut multi: Vec<(OpId, Rc<std::cell::Cell<u32>>)> = Vec::new();
    // Panics the callbacks were made to raise, and those seen.
    let mut panics_raised = 0u32;
    let raised = Rc::new(std::cell::Cell::new(0u32));
    // Tasks spawned, and those that ended.
    let mut tasks = 0u32;
    let tasks_ended = Rc::new(std::cell::Cell::new(0u32));
    for step in 0..steps {
        match rng.below(13) {
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
                ids.push((queue_nops(&h, token, depth, &seen, &tokens).unwrap(), token));
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
                // Let the reactor work for a moment: until a NOP of its own
                // completes (a panic of a callback on the way ends the run
                // early, and drops that NOP's future).
                let (out, panics) = through_panics(|| reactor.run_until(h.op(Nop)));
                panics_raised += panics;
                if panics == 0 {
                    assert_eq!(out.unwrap().0.unwrap(), 0);
                }
            }
            9 => {
                // A callback that panics once it has recorded its call.
                let token = next_token();
                let (seen, raised) = (seen.clone(), raised.clone());
                let id = h
                    .queue(Nop, move |result, ()| {
                        record(&seen, token, result, 0);
                        raised.set(raised.get() + 1);
                        std::panic::panic_any(PANIC);
                    })
                    .unwrap();
                ids.push((id, token));
            }
            10 => {
                // A multishot poll: items come as bytes arrive; its value
                // is dropped once, after its last completion.
                let (fd, _) = &pairs[rng.below(4) as usize];
                let dropped = Rc::new(std::cell::Cell::new(0));
                let flag = DropFlag(dropped.clone());
                let id = h
                    .queue_multishot(
                        uring::reactor::ops::PollMulti::new(fd, uring::PollEvents::IN),
                        move |_item| {
                            let _keep = &flag;
                        },
                    )
                    .unwrap();
                multi.push((id, dropped));
            }
            11 => {
                // A task awaiting a receive with a deadline.
                let (fd, _) = &pairs[rng.below(4) as usize];
                let at = Instant::now() + Duration::from_micros(rng.below(3000));
                let future = h.op_with_deadline(Recv::new(fd, Vec::with_capacity(CAPACITY)), at);
                let ended = tasks_ended.clone();
                tasks += 1;
                h.spawn(async move {
                    let (result, buf) = future.await;
                    if let Ok(n) = result {
                        assert_eq!(buf.len(), n as usize);
                    }
                    assert_eq!(buf.capacity(), CAPACITY, "a task's own buffer back");
                    ended.set(ended.get() + 1);
                });
            }
            12 if !multi.is_empty() => {
                // Cancel a multishot poll, live or ended: in flight exactly
                // when its value has not been dropped.
                let (id, dropped) = &multi[rng.below(multi.len() as u64) as usize];
                let ended = dropped.get() > 0;
                assert_eq!(
                    h.cancel(*id).unwrap(),
                    !ended,
                    "seed {seed:#x} step {step}: cancel of a poll (ended: {ended})"
                );
            }
            _ => {
                // Let it work for a while, long enough for some deadlines
                // and timeouts to fire.
                let after = Duration::from_micros(rng.below(500));
                let (out, panics) = through_panics(|| reactor.run_until(h.op(Timeout::new(after))));
                panics_raised += panics;
                if panics == 0 {
                    let (result, ()) = out.unwrap();
                    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ETIME));
                }
            }
        }
    }
    if rng.below(2) == 0 {
        // The end: whatever still waits is cancelled, and every callback runs.
        for &(id, token) in &ids {
            let ran = seen.borrow().calls.contains_key(&token);
            assert_eq!(
                h.cancel(id).unwrap(),
                !ran,
                "seed {seed:#x}: final cancel of {token}"
            );
        }
        for (id, dropped) in &multi {
            assert_eq!(h.cancel(*id).unwrap(), dropped.get() == 0, "seed {seed:#x}");
        }
        let (out, panics) = through_panics(|| reactor.run());
        panics_raised += panics;
        out.unwrap();
    } else {
        // The end: a callback shuts the reactor down; every other callback
        // runs all the same.
        let h2 = h.clone();
        h.queue(Nop, move |_, ()| h2.shutdown()).unwrap();
        let (out, panics) = through_panics(|| reactor.run());
        panics_raised += panics;
        if !h.is_shut_down() {
            out.unwrap();
        }
        assert!(h.is_shut_down(), "seed {seed:#x}");
    }
    assert_eq!(reactor.in_flight(), 0, "seed {seed:#x}");
    assert_eq!(
        panics_raised,
        raised.get(),
        "seed {seed:#x}: every panic reached a run"
    );
    for (_, dropped) in &multi {
        assert_eq!(
            dropped.get(),
            1,
            "seed {seed:#x}: a poll's value dropped once"
        );
    }
    if !h.is_shut_down() {
        assert_eq!(tasks_ended.get(), tasks, "seed {seed:#x}: every task ended");
    }
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
    // The walks' own panics are expected: not printed.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&PANIC) {
            report(info);
        }
    }));
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
