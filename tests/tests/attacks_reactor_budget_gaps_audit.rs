//! Attacks, from safe code, on two recent changes of the event-loop layer,
//! where `attacks_tokio_drivers_gaps_audit.rs`, `attacks_tokio_gaps_audit.rs`,
//! `attacks_multishot_overflow_gaps_audit.rs` and `reactor_walk.rs` stop:
//!
//! - the reap budget (`Shared::reap_up_to`, `Core::refill(&mut budget)` in
//!   `uring/src/reactor/{mod,core}.rs`): a reap hands out at most 1024
//!   completions, cutting a run of CQ slots to what is left. NOPs ready
//!   past the budget on CQs of 2 to 8192 entries, the head skewed so that
//!   a cut falls exactly at a run's end or across the array's wrap, with a
//!   self-waking task that must be polled between two cuts; a multishot
//!   receive whose thousands of completions are cut in the middle (and,
//!   on a CQ of 16, ended and re-armed again and again); `run_until` on a
//!   future whose completion lies behind 3000 others, and on a 20 ms
//!   timeout while callbacks keep the CQ full (it must return promptly);
//!   `run_until` returning after one budget with the rest left to a run
//!   or the drop; a shutdown from a callback in the middle of a cut reap;
//!   1600 cancels and 1800 link-timeout pairs split by cuts; 3000 stray
//!   completions in a ring handed to `Reactor::from_ring`; three reactors
//!   on one `LocalSet` each with thousands of completions ready (no
//!   driver may run more than one budget while the others wait: one did,
//!   when the rest of a CQ was in the kernel's overflow list, which the
//!   CQ does not show: a spent budget now always yields);
//!   single polls of a `TokioDriver` (each hands out at most 1024, and
//!   must wake itself when completions are left, in the overflow list
//!   too), and one dropped with
//!   the rest of a cut reap unread;
//! - the tokio driver following the runtime that polls it
//!   (`follow_runtime` in `uring/src/reactor/tokio.rs`): one driver
//!   block_on'd by runtime A, then B, then A, then B (one epoll watching
//!   the ring at a time); the runtime it was made in dropped before
//!   another polls it (it ended with tokio's error instead of following;
//!   it now follows); polled outside any runtime with a noop waker; polled by a
//!   runtime without its I/O driver; and `into_tokio` in such a runtime
//!   (tokio's documented panic: nothing may be left in flight, no
//!   descriptor open, no read left armed).
//!
//! Read against Linux 6.18: `io_uring/io_uring.c`
//! (`__io_cqring_overflow_flush` posts the overflow list in order, as much
//! as fits, and wakes the ring's poll queue through `io_cq_unlock_post`;
//! `io_uring_poll` reports `EPOLLIN` while CQEs are posted or the overflow
//! bit is set), `io_uring/nop.c` (a NOP completes inside the submit),
//! `io_uring/net.c` (`io_recv_finish`: each multishot receive posted with
//! `F_MORE`, the op ended with its item when the post fails),
//! `io_uring/kbuf.c` (a buffer per receive), `io_uring/timeout.c` (a
//! timeout fires with `-ETIME`), `io_uring/cancel.c` and `io_uring/poll.c`
//! (a pipe read waits in an armed poll, whose removal is `-ECANCELED` and
//! takes no byte); and tokio 1.54's `AsyncFd` / `Registration::poll_ready`
//! (a registration whose runtime shut down answers every poll with
//! "A Tokio 1.x context was found, but it is being shutdown."). Every
//! test asserts results, errnos, orders, counts, bytes or descriptors.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::task::{LocalSet, spawn_local};
use uring::reactor::ops::{Nop, Read, RecvMulti, Timeout};
use uring::reactor::{BufGroup, Handle, MultishotEnded, Reactor, SharedFd, TokioDriver};
use uring_tests::WakeCount as Count;
use uring_tests::net::{group_or_skip, runtime};
use uring_tests::reactor::{Spin, spin};
use uring_tests::reactor::{assert_no_read_left, drive_until, pipes};
use uring_tests::{set_int_option, skip, watchdog};

/// What callbacks saw, in the order they ran.
type Log<T> = Rc<RefCell<Vec<T>>>;

/// Canary-buffered reads' log: (which read, its errno, buffer whole).
type ReadLog = Log<(usize, Option<i32>, bool)>;

/// The completions one reap hands out at most (`REAP_BUDGET`).
const BUDGET: usize = 1024;

/// The tests count this process's descriptors, and time what they run:
/// one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// A reactor over a ring of `cq` CQ entries (and as many SQ entries, at
/// most 256), set up as `Reactor::new`'s otherwise.
fn reactor_with_cq(cq: u32) -> Reactor {
    let ring = Reactor::ring_builder()
        .cq_entries(cq)
        .build(cq.min(256))
        .unwrap();
    Reactor::from_ring(ring).unwrap()
}

/// The longest run of equal values in `marks`.
fn longest_run(marks: impl IntoIterator<Item = u32>) -> usize {
    let (mut best, mut run, mut last) = (0, 0, None);
    for m in marks {
        if Some(m) == last {
            run += 1;
        } else {
            run = 1;
            last = Some(m);
        }
        best = best.max(run);
    }
    best
}

// ---------------------------------------------------------------------
// The budget of `Reactor::run`.
// ---------------------------------------------------------------------

/// On a reactor of `cq` CQ entries whose CQ head was first moved on by
/// `skew` NOPs, `n` NOPs are queued (their pushes into the full SQ submit
/// them: they complete at once, into the CQ and then the kernel's
/// overflow list), and a task that wakes itself at each poll is spawned.
/// `run` must call each callback once, with 0, in queue order, and poll
/// the task between any 1024 callbacks (each reap hands out at most its
/// budget, then the run loop polls what was woken).
fn nops_past_the_budget(cq: u32, skew: u32, n: u32) -> Result<(), String> {
    let reactor = reactor_with_cq(cq);
    let h = reactor.handle();
    let warm = Rc::new(Cell::new(0u32));
    for _ in 0..skew {
        let warm = Rc::clone(&warm);
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            warm.set(warm.get() + 1);
        })
        .unwrap();
    }
    reactor.run().unwrap();
    assert_eq!(warm.get(), skew);
    let polls = Rc::new(Cell::new(0u32));
    let seen: Log<(u32, Result<u32, Option<i32>>, u32)> = Rc::default();
    for i in 0..n {
        let (seen, polls) = (Rc::clone(&seen), Rc::clone(&polls));
        h.queue(Nop, move |r, ()| {
            let r = r.map_err(|e| e.raw_os_error());
            seen.borrow_mut().push((i, r, polls.get()));
        })
        .unwrap();
    }
    {
        let (seen, polls) = (Rc::clone(&seen), Rc::clone(&polls));
        h.spawn(poll_fn(move |cx| {
            polls.set(polls.get() + 1);
            if seen.borrow().len() == n as usize {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }));
    }
    let start = Instant::now();
    reactor.run().unwrap();
    let took = start.elapsed();
    let seen = seen.borrow();
    let ids: Vec<u32> = seen.iter().map(|s| s.0).collect();
    let what = format!("CQ {cq}, head moved by {skew}, {n} NOPs");
    if ids != (0..n).collect::<Vec<_>>() {
        let first_bad = ids.iter().zip(0..).position(|(&a, b)| a != b);
        return Err(format!(
            "{what}: {} callbacks, the first out of place at {first_bad:?}",
            ids.len()
        ));
    }
    if let Some(bad) = seen.iter().find(|s| s.1 != Ok(0)) {
        return Err(format!("{what}: NOP {} completed with {:?}", bad.0, bad.1));
    }
    let longest = longest_run(seen.iter().map(|s| s.2));
    if longest > BUDGET {
        return Err(format!(
            "{what}: {longest} callbacks ran between two polls of a woken task"
        ));
    }
    if h.in_flight() != 0 {
        return Err(format!("{what}: {} ops left in flight", h.in_flight()));
    }
    if took > Duration::from_secs(5) {
        return Err(format!("{what}: the run took {took:?}"));
    }
    Ok(())
}

/// CQs of 2, 8, 1024, 2048 and 8192 entries: cuts at a run's end (the
/// 1024-entry CQ full from slot 0: the budget is spent exactly at the
/// array's end, with the rest in the overflow list), inside a run that
/// wraps (a head moved by 1500 of 2048, or 8000 of 8192), and on CQs so
/// small that every run is a flush of the overflow list.
#[test]
fn nops_ready_past_the_budget_come_once_in_order_with_a_task_polled_between_cuts() {
    let _serial = serial();
    let _watch = watchdog();
    let cases = [
        (2, 0, 2501),
        (8, 3, 3001),
        (1024, 0, 3 * 1024),
        (1024, 1, 2049),
        (2048, 1500, 4100),
        (8192, 0, 8192),
        (8192, 8000, 5000),
    ];
    let failed: Vec<String> = cases
        .into_iter()
        .filter_map(|(cq, skew, n)| nops_past_the_budget(cq, skew, n).err())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// What a re-arming multishot receive saw.
struct Rx {
    h: Handle,
    fd: SharedFd,
    group: BufGroup,
    got: RefCell<Vec<u32>>,
    ends: Cell<u32>,
    errors: RefCell<Vec<Option<i32>>>,
}

/// Queues a multishot receive whose callback logs each datagram's number
/// and queues the op again when the kernel ended it (`MultishotEnded`).
fn arm(rx: &Rc<Rx>) {
    let me = Rc::clone(rx);
    rx.h.queue_multishot(RecvMulti::new(&rx.fd, rx.group), move |item| match item {
        Ok(Some(buf)) => {
            let n = if buf.len() == 4 {
                u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]])
            } else {
                u32::MAX
            };
            me.got.borrow_mut().push(n);
        }
        Ok(None) => me.errors.borrow_mut().push(Some(0)),
        Err(e) if MultishotEnded::is(&e) => {
            me.ends.set(me.ends.get() + 1);
            if !me.h.is_shut_down() {
                arm(&me);
            }
        }
        Err(e) => me.errors.borrow_mut().push(e.raw_os_error()),
    })
    .unwrap();
}

/// A multishot receive on a UDP socket (receive buffer forced to 32 MiB)
/// into a buffer ring of 4096 buffers, armed and submitted; then
/// `count` datagrams, each its number, are sent from this thread (each
/// send runs the receive's task work, which posts the datagrams queued).
/// The run must hand each number once, in order, whatever the cuts.
fn multishot_past_the_budget(cq: u32, count: u32) -> Result<u32, String> {
    let reactor = reactor_with_cq(cq);
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 7, 4096, 16) else {
        return Ok(0);
    };
    let rx_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    set_int_option(&rx_sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 32 << 20).unwrap();
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx_sock.local_addr().unwrap()).unwrap();
    let rx = Rc::new(Rx {
        h: h.clone(),
        fd: SharedFd::new(OwnedFd::from(rx_sock)),
        group,
        got: RefCell::default(),
        ends: Cell::new(0),
        errors: RefCell::default(),
    });
    arm(&rx);
    h.submit().unwrap();
    for i in 0..count {
        tx.send(&i.to_le_bytes()).unwrap();
    }
    let all = drive_until(&reactor, Duration::from_secs(20), || {
        rx.got.borrow().len() >= count as usize
    });
    let what = format!("CQ {cq}, {count} datagrams");
    let got = rx.got.borrow().clone();
    if !all {
        return Err(format!("{what}: only {} received", got.len()));
    }
    if got != (0..count).collect::<Vec<_>>() {
        let first_bad = got.iter().zip(0..).position(|(&a, b)| a != b);
        return Err(format!(
            "{what}: {} items, the first out of place at {first_bad:?}",
            got.len()
        ));
    }
    if !rx.errors.borrow().is_empty() {
        return Err(format!("{what}: errors {:?}", rx.errors.borrow()));
    }
    h.shutdown();
    let errors = rx.errors.borrow().clone();
    if errors.iter().any(|&e| e != Some(libc::ECANCELED)) || errors.len() > 1 {
        return Err(format!("{what}: after the shutdown: {errors:?}"));
    }
    if h.in_flight() != 0 {
        return Err(format!("{what}: {} ops in flight", h.in_flight()));
    }
    Ok(rx.ends.get())
}

/// 3000 receives on Reactor::new's CQ of 8192: one multishot op whose
/// completions (all `F_MORE`, one buffer each) a reap cuts at 1024 and
/// 2048; and 2000 on a CQ of 16, where the kernel ends the op at each
/// full CQ and the callback arms it again.
#[test]
fn a_multishot_receive_cut_by_the_budget_hands_each_datagram_once_in_order() {
    let _serial = serial();
    let _watch = watchdog();
    let big = multishot_past_the_budget(8192, 3000).unwrap();
    assert_eq!(big, 0, "the kernel ended the op on a CQ of 8192 with room");
    let small = multishot_past_the_budget(16, 2000).unwrap();
    if small == 0 {
        skip("the kernel never ended the receive on a CQ of 16");
    }
}

/// `chains` NOP chains keep a reactor of `cq` CQ entries busy (every
/// completion queues the next; a push into the full SQ submits, and the
/// NOPs complete inside it, so each reap finds more than its budget):
/// `run_until` of a 20 ms timeout must still return soon, with `ETIME`
/// (a run that never looked past its reaps, or slept with completions
/// left, would not). Once the chains stop, every NOP queued reached its
/// callback once, with 0.
fn run_until_under_chains(cq: u32, chains: usize) -> Result<(), String> {
    let reactor = reactor_with_cq(cq);
    let h = reactor.handle();
    let stop = Rc::new(Cell::new(false));
    let s = Rc::new(Spin {
        h: h.clone(),
        stop: Rc::clone(&stop),
        queued: Cell::new(0),
        called: Cell::new(0),
        failed: Cell::new(0),
        until: Instant::now() + Duration::from_secs(10),
    });
    for _ in 0..chains {
        spin(&s);
    }
    let mut out = Vec::new();
    for round in 0..3 {
        let start = Instant::now();
        let before = s.called.get();
        let (r, ()) = reactor
            .run_until(h.op(Timeout::new(Duration::from_millis(20))))
            .unwrap();
        let took = start.elapsed();
        if errno(&r) != Some(libc::ETIME) {
            out.push(format!("round {round}: the timeout gave {r:?}"));
        }
        if took > Duration::from_millis(1000) {
            out.push(format!("round {round}: run_until took {took:?}"));
        }
        if s.called.get() - before < 100 {
            out.push(format!(
                "round {round}: the chains ran {} callbacks meanwhile",
                s.called.get() - before
            ));
        }
    }
    stop.set(true);
    reactor.run().unwrap();
    if s.failed.get() != 0 || s.queued.get() != s.called.get() {
        out.push(format!(
            "queued {}, called {}, failed {}",
            s.queued.get(),
            s.called.get(),
            s.failed.get()
        ));
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(format!("CQ {cq}, {chains} chains: {out:?}"))
    }
}

#[test]
fn run_until_a_short_timeout_returns_promptly_while_callbacks_keep_the_cq_full() {
    let _serial = serial();
    let _watch = watchdog();
    let failed: Vec<String> = [(8, 32), (1024, 64), (8192, 300)]
        .into_iter()
        .filter_map(|(cq, chains)| run_until_under_chains(cq, chains).err())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// 3000 NOPs with callbacks are queued on a CQ of 1024 (the kernel holds
/// 1976 in its overflow list), beside a 2 s timeout; `run_until` then
/// awaits a NOP queued after them. Its completion comes after the 3000
/// in the kernel's order, three budgets later: `run_until` must return
/// with 0 once every one of the 3000 callbacks ran, well before the
/// timeout (a loop that waited while completions were left would return
/// only when the timeout fired).
#[test]
fn run_until_an_op_behind_three_budgets_of_ready_completions_returns_after_them_at_once() {
    let _serial = serial();
    let _watch = watchdog();
    for cq in [1024, 2, 8192] {
        let reactor = reactor_with_cq(cq);
        let h = reactor.handle();
        let fired = Rc::new(RefCell::new(Vec::new()));
        {
            let fired = Rc::clone(&fired);
            h.queue(Timeout::new(Duration::from_secs(2)), move |r, ()| {
                fired.borrow_mut().push(errno(&r));
            })
            .unwrap();
        }
        let called = Rc::new(Cell::new(0u32));
        for _ in 0..3000 {
            let called = Rc::clone(&called);
            h.queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                called.set(called.get() + 1);
            })
            .unwrap();
        }
        let start = Instant::now();
        let (r, seen) = reactor
            .run_until({
                let (h, called) = (h.clone(), Rc::clone(&called));
                async move {
                    let (r, ()) = h.op(Nop).await;
                    (r, called.get())
                }
            })
            .unwrap();
        let took = start.elapsed();
        assert_eq!(r.unwrap(), 0, "CQ {cq}");
        assert_eq!(
            seen, 3000,
            "CQ {cq}: callbacks run before the NOP behind them"
        );
        assert!(
            took < Duration::from_millis(1500),
            "CQ {cq}: run_until took {took:?}"
        );
        assert!(fired.borrow().is_empty(), "CQ {cq}: the 2 s timeout fired");
        drop(reactor);
        assert_eq!(
            *fired.borrow(),
            [Some(libc::ECANCELED)],
            "CQ {cq}: the timeout, cancelled by the drop"
        );
        assert_eq!(h.in_flight(), 0);
    }
}

/// `run_until` of a NOP queued before 3000 more NOPs of callbacks (on
/// CQs of 8192 and 8): its completion comes first, the run polls the
/// future after that reap, which stops at its budget, and returns with
/// the rest still unread ("tasks and ops still pending stay"): at most
/// 1023 callbacks ran. The rest then run once each, in order, either by
/// a second run or inside the reactor's drop.
#[test]
fn run_until_returns_after_one_budget_and_leaves_the_rest_to_a_run_or_the_drop() {
    let _serial = serial();
    let _watch = watchdog();
    for cq in [8192, 8] {
        for by_drop in [false, true] {
            let reactor = reactor_with_cq(cq);
            let h = reactor.handle();
            let first = h.op(Nop);
            let seen: Rc<RefCell<Vec<u32>>> = Rc::default();
            for i in 0..3000u32 {
                let seen = Rc::clone(&seen);
                h.queue(Nop, move |r, ()| {
                    assert_eq!(r.unwrap(), 0);
                    seen.borrow_mut().push(i);
                })
                .unwrap();
            }
            let (r, ()) = reactor.run_until(first).unwrap();
            assert_eq!(r.unwrap(), 0);
            let early = seen.borrow().len();
            assert!(
                early < BUDGET,
                "CQ {cq}: {early} callbacks ran before run_until returned"
            );
            if by_drop {
                drop(reactor);
                assert!(h.is_shut_down());
            } else {
                reactor.run().unwrap();
            }
            assert_eq!(
                *seen.borrow(),
                (0..3000).collect::<Vec<_>>(),
                "CQ {cq}, by drop {by_drop}: callbacks"
            );
            assert_eq!(h.in_flight(), 0);
        }
    }
}

/// Reads of empty pipes (callbacks) and 3000 ready NOPs on a CQ of 1024
/// (the rest in the overflow list); the 1500th NOP's callback shuts the
/// reactor down, in the middle of the second reap's budget. Every NOP's
/// callback runs once, with 0, in order (the rest inside the shutdown's
/// reaps); every read's once, with `ECANCELED`, its canary buffer
/// untouched; the run returns; no read is left in the kernel.
#[test]
fn a_shutdown_from_a_callback_in_the_middle_of_a_cut_reap_ends_every_op_once() {
    let _serial = serial();
    let _watch = watchdog();
    let (shared, dups, mut writers) = pipes(6);
    let reactor = reactor_with_cq(1024);
    let h = reactor.handle();
    let reads: ReadLog = Rc::default();
    for (k, fd) in shared.iter().enumerate() {
        let reads = Rc::clone(&reads);
        h.queue(Read::new(fd, vec![0xA5u8; 16], 0), move |r, buf| {
            let whole = buf.len() == 16 && buf.iter().all(|&b| b == 0xA5);
            reads.borrow_mut().push((k, errno(&r), whole));
        })
        .unwrap();
    }
    h.submit().unwrap();
    let nops: Rc<RefCell<Vec<(u32, bool)>>> = Rc::default();
    for i in 0..3000u32 {
        let (nops, h2) = (Rc::clone(&nops), h.clone());
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            let closed = h2.is_shut_down();
            nops.borrow_mut().push((i, closed));
            if i == 1500 {
                h2.shutdown();
                assert!(h2.is_shut_down());
            }
        })
        .unwrap();
    }
    reactor.run().unwrap();
    let nops = nops.borrow();
    let ids: Vec<u32> = nops.iter().map(|n| n.0).collect();
    assert_eq!(ids, (0..3000).collect::<Vec<_>>(), "the NOPs' callbacks");
    assert!(
        nops[..=1500].iter().all(|n| !n.1) && nops[1501..].iter().all(|n| n.1),
        "the NOPs after the 1500th ran inside the shutdown"
    );
    let mut reads = reads.borrow().clone();
    reads.sort();
    let want: Vec<_> = (0..6).map(|k| (k, Some(libc::ECANCELED), true)).collect();
    assert_eq!(reads, want, "(read, errno, buffer whole)");
    assert_eq!(h.in_flight(), 0);
    assert!(reactor.run().is_err(), "a run of a shut-down reactor");
    assert_no_read_left(&dups, &mut writers);
}

fn queue_canary_read(
    h: &Handle,
    fd: &SharedFd,
    k: usize,
    log: &ReadLog,
    deadline: Option<Instant>,
) -> uring::reactor::OpId {
    let log = Rc::clone(log);
    let cb = move |r: io::Result<u32>, buf: Vec<u8>| {
        let whole = buf.len() == 16 && buf.iter().all(|&b| b == 0xA5);
        log.borrow_mut().push((k, errno(&r), whole));
    };
    let op = Read::new(fd, vec![0xA5u8; 16], 0);
    match deadline {
        Some(d) => h.queue_with_deadline(op, d, cb),
        None => h.queue(op, cb),
    }
    .unwrap()
}

/// 1600 reads of four empty pipes (armed polls) on a CQ of 1024, each
/// then cancelled: 3200 completions (each read's `ECANCELED` and each
/// cancel request's own), most in the overflow list, read over four
/// budgets. Each read's callback runs once, with `ECANCELED`, its canary
/// buffer untouched; a second cancel of each finds nothing (`Ok(false)`);
/// nothing is left in flight, no read in the kernel.
#[test]
fn cancels_of_1600_reads_read_over_several_budgets_end_each_read_once() {
    let _serial = serial();
    let _watch = watchdog();
    let (shared, dups, mut writers) = pipes(4);
    let reactor = reactor_with_cq(1024);
    let h = reactor.handle();
    let log: ReadLog = Rc::default();
    let ids: Vec<_> = (0..1600)
        .map(|k| queue_canary_read(&h, &shared[k % 4], k, &log, None))
        .collect();
    h.submit().unwrap();
    assert_eq!(h.in_flight(), 1600);
    for &id in &ids {
        assert!(h.cancel(id).unwrap(), "a read in flight not cancelled");
    }
    let start = Instant::now();
    reactor.run().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let mut got = log.borrow().clone();
    got.sort();
    let want: Vec<_> = (0..1600)
        .map(|k| (k, Some(libc::ECANCELED), true))
        .collect();
    assert_eq!(got, want, "(read, errno, buffer whole)");
    for &id in &ids {
        assert!(!h.cancel(id).unwrap(), "a second cancel found an op");
    }
    assert_eq!(h.in_flight(), 0);
    assert_no_read_left(&dups, &mut writers);
}

/// Link-timeout pairs across budget cuts, on a CQ of 1024: one plain NOP
/// (so that the cuts fall between an op and its timeout), 1500 NOPs with
/// an hour's deadline (each posts two completions: the NOP's 0 and its
/// timeout's `ECANCELED`) and 300 reads of empty pipes with a 30 ms
/// deadline (the timeouts fire together: each read `ECANCELED`, each
/// timeout `ETIME`). Every callback once: the NOPs with 0 in order, the
/// reads with `ECANCELED` and their canaries; nothing left in flight, the
/// run over, no read left in the kernel.
#[test]
fn link_timeout_pairs_split_by_budget_cuts_end_each_op_once() {
    let _serial = serial();
    let _watch = watchdog();
    let (shared, dups, mut writers) = pipes(3);
    let reactor = reactor_with_cq(1024);
    let h = reactor.handle();
    let nops: Log<(u32, Option<i32>)> = Rc::default();
    let far = Instant::now() + Duration::from_secs(3600);
    for i in 0..1501u32 {
        let nops = Rc::clone(&nops);
        let cb = move |r: io::Result<u32>, ()| {
            nops.borrow_mut()
                .push((i, errno(&r).or(r.ok().map(|v| v as i32 + 1000))));
        };
        if i == 0 {
            h.queue(Nop, cb).unwrap();
        } else {
            h.queue_with_deadline(Nop, far, cb).unwrap();
        }
    }
    let log: ReadLog = Rc::default();
    let soon = Instant::now() + Duration::from_millis(30);
    for k in 0..300 {
        queue_canary_read(&h, &shared[k % 3], k, &log, Some(soon));
    }
    let start = Instant::now();
    reactor.run().unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "the run took {took:?}");
    let want: Vec<_> = (0..1501).map(|i| (i, Some(1000))).collect();
    assert_eq!(*nops.borrow(), want, "(NOP, 1000 + result)");
    let mut got = log.borrow().clone();
    got.sort();
    let want: Vec<_> = (0..300).map(|k| (k, Some(libc::ECANCELED), true)).collect();
    assert_eq!(got, want, "(read, errno, buffer whole)");
    assert_eq!(h.in_flight(), 0);
    assert_no_read_left(&dups, &mut writers);
}

/// A ring whose CQ (and, on small CQs, the kernel's overflow list) holds
/// 3000 completions of NOPs pushed on it directly, with `user_data`s of
/// every shape, is handed to `Reactor::from_ring`: those completions name
/// no op of the reactor and are dropped over several budgets; the
/// reactor's own NOPs queued after them each get their callback once,
/// with 0, in order; `run_until` of a NOP behind them all returns soon.
#[test]
fn stray_completions_past_the_budget_in_a_ring_handed_to_a_reactor_reach_no_callback() {
    use uring::ops::Nop as RawNop;
    let _serial = serial();
    let _watch = watchdog();
    for cq in [8, 1024, 8192] {
        let mut ring = Reactor::ring_builder()
            .cq_entries(cq)
            .build(cq.min(256))
            .unwrap();
        for i in 0..3000u64 {
            let data = match i % 4 {
                0 => i,
                1 => u64::MAX - i,
                2 => i << 32,
                _ => (i << 32) | (i & 0xFFFF),
            };
            let mut sub = RawNop::new().user_data(data);
            loop {
                match ring.push(sub) {
                    Ok(()) => break,
                    Err(full) => {
                        sub = full.into_inner();
                        ring.submit().unwrap();
                    }
                }
            }
        }
        ring.submit().unwrap();
        let reactor = Reactor::from_ring(ring).unwrap();
        let h = reactor.handle();
        let seen: Rc<RefCell<Vec<u32>>> = Rc::default();
        for i in 0..100u32 {
            let seen = Rc::clone(&seen);
            h.queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                seen.borrow_mut().push(i);
            })
            .unwrap();
        }
        let start = Instant::now();
        let (r, ()) = reactor.run_until(h.op(Nop)).unwrap();
        let took = start.elapsed();
        assert_eq!(r.unwrap(), 0, "CQ {cq}");
        assert_eq!(
            *seen.borrow(),
            (0..100).collect::<Vec<_>>(),
            "CQ {cq}: the reactor's callbacks"
        );
        assert!(took < Duration::from_secs(2), "CQ {cq}: {took:?}");
        assert_eq!(h.in_flight(), 0, "CQ {cq}");
        reactor.run().unwrap();
    }
}

// ---------------------------------------------------------------------
// The budget of the tokio driver.
// ---------------------------------------------------------------------

/// A driver polled by hand, inside its runtime's context (whose I/O
/// driver never runs: the ring's descriptor never reads as ready), with
/// `n` NOPs of callbacks queued on a CQ of `cq`: each poll hands out at
/// most 1024 and at least one; all come once, in order, within
/// `n / 1024 + 3` polls; the last poll, with nothing left, wakes
/// nothing. Returns (callbacks run, wakes) per poll, for the callers to
/// check that a poll which left completions woke its own waker (yielded,
/// rather than wait for a descriptor its I/O driver never looks at).
fn hand_polls(cq: u32, n: u32) -> Result<Vec<(usize, usize)>, String> {
    let rt = runtime();
    let _inside = rt.enter();
    let reactor = reactor_with_cq(cq);
    let h = reactor.handle();
    let mut driver = Box::pin(reactor.into_tokio().unwrap());
    let seen: Rc<RefCell<Vec<u32>>> = Rc::default();
    for i in 0..n {
        let seen = Rc::clone(&seen);
        h.queue(Nop, move |r, ()| {
            assert_eq!(r.unwrap(), 0);
            seen.borrow_mut().push(i);
        })
        .unwrap();
    }
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&count));
    let mut cx = Context::from_waker(&waker);
    let mut polls = Vec::new();
    let what = format!("CQ {cq}, {n} NOPs");
    for _ in 0..(n as usize / BUDGET + 3) {
        let before = (seen.borrow().len(), count.0.load(Ordering::SeqCst));
        if let Poll::Ready(r) = driver.as_mut().poll(&mut cx) {
            return Err(format!("{what}: the driver ended: {r:?}"));
        }
        let after = (seen.borrow().len(), count.0.load(Ordering::SeqCst));
        let (handed, woke) = (after.0 - before.0, after.1 - before.1);
        polls.push((handed, woke));
        if handed > BUDGET {
            return Err(format!("{what}: one poll ran {handed} callbacks"));
        }
        if after.0 == n as usize {
            break;
        }
        if handed == 0 {
            return Err(format!("{what}: a poll made no progress: {polls:?}"));
        }
    }
    if *seen.borrow() != (0..n).collect::<Vec<_>>() {
        return Err(format!(
            "{what}: {} callbacks, not in order or not all: {polls:?}",
            seen.borrow().len()
        ));
    }
    let before = count.0.load(Ordering::SeqCst);
    if driver.as_mut().poll(&mut cx).is_ready() {
        return Err(format!("{what}: the driver ended"));
    }
    if count.0.load(Ordering::SeqCst) != before {
        return Err(format!("{what}: an idle poll woke itself"));
    }
    h.shutdown();
    match driver.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(())) => Ok(polls),
        other => Err(format!("{what}: after the shutdown: {other:?}")),
    }
}

/// On Reactor::new's CQ of 8192, 3000 NOPs sit in the CQ's slots: three
/// polls (1024, 1024, 952), the first two waking the driver.
#[test]
fn one_poll_of_the_tokio_driver_hands_out_at_most_one_budget_and_yields_with_the_cq_left() {
    let _serial = serial();
    let _watch = watchdog();
    let polls = hand_polls(8192, 3000).unwrap();
    assert_eq!(
        polls.iter().map(|p| p.0).collect::<Vec<_>>(),
        [1024, 1024, 952],
        "callbacks per poll, CQ of 8192"
    );
    assert!(
        polls[..2].iter().all(|p| p.1 >= 1),
        "a poll that left completions in the CQ did not wake itself: {polls:?}"
    );
}

/// A driver polled once by hand (inside its runtime's context), which
/// hands out one budget of 4000 ready NOPs' callbacks, then dropped with
/// the rest unread: its drop shuts the reactor down, which reads the
/// rest. Every callback runs once, with 0, in order; nothing is left in
/// flight; once the handle goes, no descriptor of the reactor is open.
/// On CQs of 8192 (the rest in the CQ's slots) and 8 (in the overflow
/// list).
#[test]
fn a_driver_dropped_after_a_poll_cut_by_its_budget_runs_the_rest_once() {
    let _serial = serial();
    let _watch = watchdog();
    for cq in [8192, 8] {
        let rt = runtime();
        let _inside = rt.enter();
        let base = fd_count();
        let reactor = reactor_with_cq(cq);
        let h = reactor.handle();
        let mut driver = Box::pin(reactor.into_tokio().unwrap());
        let seen: Rc<RefCell<Vec<u32>>> = Rc::default();
        for i in 0..4000u32 {
            let seen = Rc::clone(&seen);
            h.queue(Nop, move |r, ()| {
                assert_eq!(r.unwrap(), 0);
                seen.borrow_mut().push(i);
            })
            .unwrap();
        }
        assert!(
            driver
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        assert_eq!(seen.borrow().len(), BUDGET, "CQ {cq}: one poll");
        drop(driver);
        assert!(h.is_shut_down(), "CQ {cq}");
        assert_eq!(h.in_flight(), 0, "CQ {cq}");
        assert_eq!(
            *seen.borrow(),
            (0..4000).collect::<Vec<_>>(),
            "CQ {cq}: callbacks"
        );
        drop(h);
        assert_eq!(fd_count(), base, "CQ {cq}: descriptors left open");
    }
}

/// Three reactors driven on one `LocalSet`, on CQs of `cqs` entries, each
/// with 4000 NOPs of callbacks ready at once: each callback runs once, in
/// its reactor's order; while all three have completions left, no reactor
/// runs more than one budget (1024) of callbacks in a row (a driver that
/// spent its budget yields, and the `LocalSet` polls the others before
/// it again); tokio's 1 ms timer, started before, fires within a second
/// (ten under valgrind).
/// The runs of callbacks per reactor, in the order they ran, as the error.
fn three_reactors_take_turns(cqs: [u32; 3]) -> Result<(), String> {
    const N: u32 = 4000;
    let rt = runtime();
    LocalSet::new().block_on(&rt, async {
        let log: Rc<RefCell<Vec<(usize, u32)>>> = Rc::default();
        let start = Instant::now();
        let timer = spawn_local(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Instant::now()
        });
        let mut handles = Vec::new();
        let mut drivers = Vec::new();
        for (r, cq) in cqs.into_iter().enumerate() {
            let reactor = reactor_with_cq(cq);
            let h = reactor.handle();
            drivers.push(spawn_local(reactor.into_tokio().unwrap()));
            for i in 0..N {
                let log = Rc::clone(&log);
                h.queue(Nop, move |res, ()| {
                    assert_eq!(res.unwrap(), 0);
                    log.borrow_mut().push((r, i));
                })
                .unwrap();
            }
            handles.push(h);
        }
        let end = Instant::now() + Duration::from_secs(10);
        while log.borrow().len() < 3 * N as usize && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let fired = tokio::time::timeout(Duration::from_secs(2), timer)
            .await
            .expect("tokio's timer never fired")
            .unwrap();
        let log = log.borrow().clone();
        for h in &handles {
            h.shutdown();
        }
        for d in drivers {
            d.await.unwrap().unwrap();
        }
        assert_eq!(log.len(), 3 * N as usize, "CQs {cqs:?}: callbacks run");
        for r in 0..3 {
            let mine: Vec<u32> = log.iter().filter(|e| e.0 == r).map(|e| e.1).collect();
            assert_eq!(
                mine,
                (0..N).collect::<Vec<_>>(),
                "CQs {cqs:?}: reactor {r}'s callbacks"
            );
        }
        // Under valgrind, sharing the machine's cores with another
        // program, the 12 000 callbacks alone may take a second: there the
        // bound only says the timer was not starved for good.
        let bound = Duration::from_secs(if uring_tests::under_valgrind() { 10 } else { 1 });
        assert!(
            fired - start < bound,
            "CQs {cqs:?}: a 1 ms timer fired after {:?}",
            fired - start
        );
        // Up to the first reactor's last callback, all three had some left.
        let first_done = (0..3)
            .map(|r| log.iter().rposition(|e| e.0 == r).unwrap())
            .min()
            .unwrap();
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for e in &log[..=first_done] {
            match runs.last_mut() {
                Some(l) if l.0 == e.0 => l.1 += 1,
                _ => runs.push((e.0, 1)),
            }
        }
        if runs.iter().any(|r| r.1 > BUDGET) {
            Err(format!(
                "CQs {cqs:?}: (reactor, callbacks in a row) while all three had some left: {runs:?}"
            ))
        } else {
            Ok(())
        }
    })
}

/// Reactor::new's CQ of 8192 for all three: 4000 completions sit in each
/// CQ's slots, and each driver's poll stops at 1024, waking itself.
#[test]
fn three_reactors_with_thousands_in_their_cq_s_slots_take_turns_of_one_budget() {
    let _serial = serial();
    let _watch = watchdog();
    three_reactors_take_turns([8192, 8192, 8192]).unwrap();
}

/// CQs of 1024, 8 and 8192: the first two hold the rest of their 4000 in
/// the kernel's overflow list, and each of their polls spends its budget
/// exactly at the end of the CQ's slots (1024 slots; or 128 flushes of
/// 8). `has_completions` (the CQ's slots and the completions moved out of
/// it) then says nothing is left, the driver does not yield but waits
/// for its descriptor, and only the runtime's next look at epoll (whose
/// edge the flushes raised) polls it again: meanwhile the third driver,
/// waking itself, is polled again and again and runs all its 4000 in a
/// row (seen: `[(0, 1024), (1, 1024), (2, 4000), (0, 1024), ..]`, before
/// a spent budget made the poll yield whatever the CQ shows).
#[test]
fn three_reactors_with_thousands_in_overflow_lists_take_turns_of_one_budget() {
    let _serial = serial();
    let _watch = watchdog();
    three_reactors_take_turns([1024, 8, 8192]).unwrap();
}

/// On CQs of 1024 and 8, 3000 NOPs: the CQ's slots hold 1024 (or 8), the
/// kernel's overflow list the rest. The first poll spends its budget
/// exactly at the end of the slots (1024 of them, or 128 flushes of 8),
/// leaving 1976 completions in the overflow list, where the CQ shows none
/// (`has_completions` looks at the CQ's slots and at `pending`, not at the
/// overflow flag `IORING_SQ_CQ_OVERFLOW`). It must wake its waker and
/// yield, as documented ("with work left after that ... it yields to the
/// runtime, which polls it again"); it once returned `Pending` without,
/// waiting for its descriptor instead. A spent budget now always yields.
#[test]
fn a_driver_poll_that_leaves_completions_in_the_overflow_list_wakes_itself() {
    let _serial = serial();
    let _watch = watchdog();
    let mut out = Vec::new();
    for cq in [1024, 8] {
        let polls = hand_polls(cq, 3000).unwrap();
        assert_eq!(
            polls.iter().map(|p| p.0).sum::<usize>(),
            3000,
            "CQ {cq}: {polls:?}"
        );
        let last = polls.len() - 1;
        if polls[..last].iter().any(|p| p.1 == 0) {
            out.push(format!("CQ {cq}: (callbacks, wakes) per poll: {polls:?}"));
        }
    }
    assert!(
        out.is_empty(),
        "polls that left completions and woke nothing: {out:?}"
    );
}

// ---------------------------------------------------------------------
// The driver and the runtime that polls it.
// ---------------------------------------------------------------------

/// Polls the driver beside `fut` until `fut` resolves: its output, or
/// what the driver ended with if it ended first.
async fn with_driver<T>(
    driver: &mut Pin<Box<TokioDriver>>,
    fut: impl Future<Output = T>,
) -> Result<T, io::Result<()>> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match driver.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(Err(r)),
            // What the driver reaped may have woken `fut`.
            Poll::Pending => fut.as_mut().poll(cx).map(Ok),
        }
    })
    .await
}

/// A 20 ms timeout awaited through the driver, bounded by 2 s of the
/// current runtime's timer: its errno.
async fn timed(h: &Handle) -> Result<Option<i32>, &'static str> {
    match tokio::time::timeout(
        Duration::from_secs(2),
        h.op(Timeout::new(Duration::from_millis(20))),
    )
    .await
    {
        Ok((r, ())) => Ok(errno(&r)),
        Err(_) => Err("never resolved"),
    }
}

/// How many epoll descriptors of this process watch an io_uring descriptor
/// (`tfd:` lines of `/proc/self/fdinfo`), with one ring in the process.
fn ring_watchers() -> usize {
    let mut rings = Vec::new();
    let mut epolls = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let fd = entry.file_name().to_string_lossy().into_owned();
        match target.to_string_lossy().as_ref() {
            "anon_inode:[io_uring]" => rings.push(fd),
            "anon_inode:[eventpoll]" => epolls.push(fd),
            _ => {}
        }
    }
    assert_eq!(rings.len(), 1, "io_uring descriptors: {rings:?}");
    epolls
        .iter()
        .filter(|e| {
            let info =
                std::fs::read_to_string(format!("/proc/self/fdinfo/{e}")).unwrap_or_default();
            info.lines().any(|l| {
                l.strip_prefix("tfd:")
                    .and_then(|rest| rest.split_whitespace().next())
                    == Some(rings[0].as_str())
            })
        })
        .count()
}

/// One driver, made in runtime A, block_on'd by A, then B, then A, then B
/// (both alive, on this thread; each switch registers the ring with the
/// runtime polling it and drops the other registration): in each, a NOP
/// gives 0 and a 20 ms timeout, which only the descriptor's readiness
/// announces, `ETIME`; after each, only one runtime's epoll instance
/// watches the ring (the other registration was dropped). The shutdown then ends the driver with
/// `Ok`.
#[test]
fn a_driver_block_on_d_by_runtime_a_then_b_then_a_hears_its_completions_in_each() {
    let _serial = serial();
    let _watch = watchdog();
    let (a, b) = (runtime(), runtime());
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut driver = {
        let _inside = a.enter();
        Box::pin(reactor.into_tokio().unwrap())
    };
    // (One runtime's epoll instance may be open under several descriptors,
    // each listing what it watches: the count of one registration.)
    let one = ring_watchers();
    assert!(one >= 1, "into_tokio registered nothing");
    let mut got = Vec::new();
    for (name, rt) in [("A", &a), ("B", &b), ("A", &a), ("B", &b), ("A", &a)] {
        let r = rt.block_on(with_driver(&mut driver, async {
            let (nop, ()) = h.op(Nop).await;
            (nop.ok(), timed(&h).await)
        }));
        got.push((name, r.map_err(|e| format!("{e:?}")), ring_watchers()));
    }
    let want: Vec<_> = ["A", "B", "A", "B", "A"]
        .into_iter()
        .map(|n| (n, Ok((Some(0), Ok(Some(libc::ETIME)))), one))
        .collect();
    assert_eq!(
        got, want,
        "(runtime, (NOP, timeout), epoll instances watching the ring) per block_on"
    );
    h.shutdown();
    let end = b.block_on(poll_fn(|cx| driver.as_mut().poll(cx)));
    assert!(end.is_ok(), "the driver after its shutdown: {end:?}");
}

/// The driver is made in runtime A, A is dropped, and runtime B awaits it
/// (as the docs allow: "Polled by another runtime (spawned there, or
/// awaited in its `block_on`), it registers the ring's descriptor with
/// that one"). It never gets there: its first look at A's registration,
/// whose runtime shut down, is an error (tokio's "A Tokio 1.x context was
/// found, but it is being shutdown."), which ends the driver, and with it
/// the reactor: the timeout awaited in B was refused rather than `ETIME`.
/// An error of the registration now sends the driver to the runtime
/// polling it, as a wait does.
#[test]
fn a_driver_whose_runtime_was_dropped_follows_the_runtime_that_polls_it() {
    let _serial = serial();
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut driver = {
        let a = runtime();
        let _inside = a.enter();
        Box::pin(reactor.into_tokio().unwrap())
    };
    let b = runtime();
    let r = b.block_on(with_driver(&mut driver, async {
        let (nop, ()) = h.op(Nop).await;
        (nop.ok(), timed(&h).await)
    }));
    let shown = r.map_err(|e| format!("{e:?}"));
    assert_eq!(
        shown,
        Ok((Some(0), Ok(Some(libc::ETIME)))),
        "a NOP and a 20 ms timeout awaited in runtime B through a driver made in a runtime since dropped"
    );
    h.shutdown();
    assert!(b.block_on(poll_fn(|cx| driver.as_mut().poll(cx))).is_ok());
}

/// A driver made in runtime A (alive, idle) and polled by hand outside
/// any runtime with a noop waker: each poll submits and reaps, so a NOP
/// gives 0 and a 20 ms timeout `ETIME` within a bounded loop of polls; a
/// poll leaves the registration with A (no runtime to follow), and the
/// driver still hears its completions in A's `block_on` afterwards.
#[test]
fn a_driver_polled_by_hand_outside_any_runtime_reaps_at_each_poll_and_still_works_in_its_own() {
    let _serial = serial();
    let _watch = watchdog();
    let a = runtime();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut driver = {
        let _inside = a.enter();
        Box::pin(reactor.into_tokio().unwrap())
    };
    let mut cx = Context::from_waker(Waker::noop());
    let mut nop = Box::pin(h.op(Nop));
    let mut timeout = Box::pin(h.op(Timeout::new(Duration::from_millis(20))));
    let (mut nop_r, mut timeout_r) = (None, None);
    let end = Instant::now() + Duration::from_secs(3);
    while (nop_r.is_none() || timeout_r.is_none()) && Instant::now() < end {
        if nop_r.is_none()
            && let Poll::Ready((r, ())) = nop.as_mut().poll(&mut cx)
        {
            nop_r = Some(r.ok());
        }
        if timeout_r.is_none()
            && let Poll::Ready((r, ())) = timeout.as_mut().poll(&mut cx)
        {
            timeout_r = Some(errno(&r));
        }
        if let Poll::Ready(r) = driver.as_mut().poll(&mut cx) {
            panic!("the driver ended outside any runtime: {r:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(nop_r, Some(Some(0)), "a NOP polled by hand");
    assert_eq!(
        timeout_r,
        Some(Some(libc::ETIME)),
        "a 20 ms timeout polled by hand"
    );
    let r = a.block_on(with_driver(&mut driver, timed(&h)));
    assert_eq!(
        r.map_err(|e| format!("{e:?}")),
        Ok(Ok(Some(libc::ETIME))),
        "back in runtime A"
    );
    h.shutdown();
    assert!(matches!(driver.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
}

/// The message of a caught panic.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs `f` with the panic hook silenced (the panic is expected).
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    r
}

/// `into_tokio` inside a runtime built without its I/O driver: tokio's
/// own panic ("IO is disabled"), as documented; the reactor, dropped
/// during the unwind, cancels the two reads it had submitted (each
/// callback once, `ECANCELED`, canary buffers untouched), leaves nothing
/// in flight, no read in the kernel and, once the last handle goes, no
/// descriptor open.
#[test]
fn into_tokio_in_a_runtime_without_io_panics_with_tokio_s_message_and_leaves_nothing() {
    let _serial = serial();
    let _watch = watchdog();
    let (shared, dups, mut writers) = pipes(2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let base = fd_count();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let log: ReadLog = Rc::default();
    for (k, fd) in shared.iter().enumerate() {
        let log = Rc::clone(&log);
        h.queue(Read::new(fd, vec![0x5Au8; 8], 0), move |r, buf| {
            let whole = buf.len() == 8 && buf.iter().all(|&b| b == 0x5A);
            log.borrow_mut().push((k, errno(&r), whole));
        })
        .unwrap();
    }
    h.submit().unwrap();
    let caught = quietly(|| rt.block_on(async move { reactor.into_tokio().map(drop) }));
    let text = match caught {
        Ok(r) => panic!("into_tokio without an I/O driver returned {r:?}"),
        Err(p) => panic_text(&*p),
    };
    assert!(
        text.contains("IO is disabled"),
        "not tokio's panic: {text:?}"
    );
    assert!(h.is_shut_down(), "the reactor outlived the unwind");
    assert_eq!(h.in_flight(), 0);
    let mut log = log.borrow().clone();
    log.sort();
    assert_eq!(
        log,
        [
            (0, Some(libc::ECANCELED), true),
            (1, Some(libc::ECANCELED), true)
        ]
    );
    assert_no_read_left(&dups, &mut writers);
    drop(h);
    assert_eq!(fd_count(), base, "descriptors left open");
}

/// A driver made in runtime A and block_on'd by runtime B built without
/// its I/O driver: following B means registering with it, which tokio
/// refuses with its panic ("IO is disabled"), out of B's `block_on`. The
/// driver is left as it was: back in A, a NOP gives 0 and a 20 ms timeout
/// `ETIME`, and the shutdown ends it with `Ok`; no op is left in flight.
#[test]
fn a_driver_polled_by_a_runtime_without_io_panics_there_and_still_works_in_its_own() {
    let _serial = serial();
    let _watch = watchdog();
    let a = runtime();
    let b = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut driver = {
        let _inside = a.enter();
        Box::pin(reactor.into_tokio().unwrap())
    };
    let caught = quietly(|| {
        b.block_on(with_driver(&mut driver, async {
            let (nop, ()) = h.op(Nop).await;
            (nop.ok(), timed(&h).await)
        }))
    });
    let text = match caught {
        Ok(r) => panic!(
            "runtime B without I/O: {:?}",
            r.map_err(|e| format!("{e:?}"))
        ),
        Err(p) => panic_text(&*p),
    };
    assert!(
        text.contains("IO is disabled"),
        "not tokio's panic: {text:?}"
    );
    let r = a.block_on(with_driver(&mut driver, async {
        let (nop, ()) = h.op(Nop).await;
        (nop.ok(), timed(&h).await)
    }));
    assert_eq!(
        r.map_err(|e| format!("{e:?}")),
        Ok((Some(0), Ok(Some(libc::ETIME)))),
        "back in runtime A"
    );
    h.shutdown();
    let end = a.block_on(poll_fn(|cx| driver.as_mut().poll(cx)));
    assert!(end.is_ok(), "{end:?}");
    assert_eq!(h.in_flight(), 0);
}
