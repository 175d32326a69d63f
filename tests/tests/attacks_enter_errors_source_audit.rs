//! The errors `io_uring_enter(2)` and `io_uring_register(2)` answer, met by
//! the raw ring, by a scope (above all while it ends and must wait for its
//! ops), by the reactor's run loop and shutdown, and by `uring::net`.
//!
//! Kernel code read (Linux 6.18):
//!
//! - `io_uring/io_uring.c`, `SYSCALL_DEFINE6(io_uring_enter)`: `EINVAL`
//!   for unknown flags, `EBADF` for a descriptor (or registered index)
//!   that names nothing, `EOPNOTSUPP` for one that is no ring, `EBADFD`
//!   for a ring still `IORING_SETUP_R_DISABLED`, `EOWNERDEAD` for an
//!   SQPOLL ring whose `sq_data->thread` is gone. Without SQPOLL, an enter
//!   that submits calls `io_uring_add_tctx_node` first, then
//!   `io_submit_sqes`, and when that consumed fewer SQEs than asked (or
//!   failed) it returns at once: no wait follows a short or failed submit.
//!   With a count of SQEs submitted, an error of the wait is not reported
//!   (`if (!ret) ret = ret2`).
//! - `io_submit_sqes`: `-EAGAIN` when it submitted nothing because
//!   `io_alloc_req` found the request cache empty and the slab could not
//!   refill it (`__io_alloc_req_refill`, `GFP_KERNEL`, charged to the
//!   memory cgroup): an answer that lasts as long as the memory pressure.
//! - `io_cqring_wait`: `-EEXIST` when a `DEFER_TASKRUN` ring is waited on
//!   by a task other than its submitter (`io_allowed_run_tw`); `-EINTR`
//!   from `io_cqring_wait_schedule` when a signal is pending
//!   (`task_sigpending`), reported only when the CQ is empty (otherwise the
//!   wait returns 0); `-ETIME` at the timeout; `-EBADR` when
//!   `IO_CHECK_CQ_DROPPED_BIT` is set (cleared once reported). No path of
//!   6.18's enter answers `EBUSY` (the overflow list is flushed, not
//!   refused).
//! - `io_uring/tctx.c`, `__io_uring_add_tctx_node_from_submit`: `-EEXIST`
//!   for a `SINGLE_ISSUER` ring's submit from another task; `-ENOMEM` when
//!   the task context or its io-wq cannot be allocated.
//! - `io_uring/register.c`, `__io_uring_register`: `-EEXIST` for every
//!   register call from a task other than the ring's `submitter_task`;
//!   `-EACCES` for an opcode a restricted ring does not allow;
//!   `io_register_enable_rings` sets the submitter of a disabled
//!   single-issuer ring.
//! - `io_uring/sqpoll.c`: an SQPOLL ring's enters never submit (the SQ
//!   thread does), so they never meet the single-issuer check.
//!
//! Against that, the library: `Ring::enter_and_wait` (`submit.rs`) resumes
//! after `EINTR` and reports everything else; `Ring::end_scope`
//! (`scope/mod.rs`) retries `EINTR`, `EAGAIN`, `EBUSY`, `ENOMEM` and
//! `EBADR` at once (`is_transient`), takes back the SQEs the kernel never
//! saw for the others, and aborts when it can neither wait nor take back;
//! the reactor (`reactor/core.rs`, `transient`) drains its CQ and goes on
//! after `EBUSY`, `EAGAIN` and `EINTR`, and returns any other error from
//! `run`, leaking what is in flight at a shutdown that cannot wait.
//!
//! Failures that safe code provokes for real are provoked (signals sent to
//! the waiting thread, a single-issuer ring used from another thread, a
//! ring without a descriptor away from the thread that registered its
//! index, restrictions that refuse the scope's cancels); those that need
//! kernel memory pressure (`EAGAIN`, `ENOMEM`) are planned with the
//! test-only seam `uring::sys::fault` (for the measures of spinning, only
//! where every enter met submits, so that the kernel could answer each
//! so). A hang or a spin is measured in a child process, which is killed,
//! never by blocking the suite.

use std::cell::RefCell;
use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use uring::net::{TcpListener, TcpStream};
use uring::ops::{Nop, Read};
use uring::reactor::{Reactor, SharedFd, ops as rops};
use uring::sys::fault::{self, Call};
use uring::{Builder, Restriction, Ring, SyncCancel};
use uring_tests::{
    PATIENCE, child_command, in_child, in_own_process, require_sqpoll, signals, skip, watchdog,
};

/// What a child process prints when the part to be measured begins.
const MARKER: &str = "the measured part begins";

/// How long a child process is watched once it has printed [`MARKER`].
const WINDOW: Duration = Duration::from_secs(1);

/// When a peer writes, in the tests where a wait must last.
const LATE: Duration = Duration::from_millis(300);

/// How long a drop that cannot wait on its ring may take.
const BOUND: Duration = Duration::from_secs(5);

/// Whether `/proc/<pid>/task/<tid>/schedstat` can be read here.
fn has_schedstat() -> bool {
    if std::fs::read_to_string("/proc/thread-self/schedstat").is_ok() {
        return true;
    }
    skip("no /proc/thread-self/schedstat: the CPU time of a process cannot be measured");
    false
}

/// The CPU time the threads of process `pid` have used so far (the sum of
/// their `schedstat`s, in nanoseconds on a CPU).
fn process_cpu(pid: u32) -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
                ns += text
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

/// Runs test `name` of this binary in a child process, waits until it
/// prints [`MARKER`], then measures for [`WINDOW`] how much CPU time the
/// child uses, and kills it. Returns the wall time measured, the CPU time
/// used in it, and what the child printed.
fn cpu_of_child(name: &str) -> (Duration, Duration, String) {
    let mut child = child_command(name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a child process of the test binary");
    let stdout = child.stdout.take().expect("the child's stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => {
                printed.push_str(&line);
                printed.push('\n');
                if line.contains(MARKER) {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("the child never reached the measured part:\n{printed}");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let out = child.wait_with_output().expect("the child's output");
                panic!(
                    "the child ended before the measured part ({}):\n{printed}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    // What came before the measured part (the test harness, the setup)
    // settles first.
    std::thread::sleep(Duration::from_millis(100));
    let before = process_cpu(child.id());
    let started = Instant::now();
    std::thread::sleep(WINDOW);
    let cpu = process_cpu(child.id()).saturating_sub(before);
    let wall = started.elapsed();
    let _ = child.kill();
    let out = child.wait_with_output().expect("the child's output");
    reader.join().expect("the reader of the child's stdout");
    while let Ok(line) = rx.try_recv() {
        printed.push_str(&line);
        printed.push('\n');
    }
    printed.push_str(&String::from_utf8_lossy(&out.stderr));
    (wall, cpu, printed)
}

/// A thread that sends [`signals::SIG`] to the calling thread every 200
/// µs until stopped (the counting handler must be installed, in a process
/// of the test's own); [`Storm::stop`] returns how many were sent.
struct Storm {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u32>>,
}

impl Storm {
    fn on_this_thread() -> Storm {
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut sent = 0u32;
            while !stopped.load(Ordering::SeqCst) {
                // SAFETY: the target thread stops and joins this one
                // (`Storm::stop`, or the drop) before it ends.
                assert_eq!(unsafe { libc::pthread_kill(target, signals::SIG) }, 0);
                sent += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            sent
        });
        Storm {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u32 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("the signal thread"))
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes `data` into `stream` after [`LATE`], setting `written` just
/// before; returns the stream.
fn write_late(
    mut stream: UnixStream,
    data: &'static [u8],
    written: Arc<AtomicBool>,
) -> std::thread::JoinHandle<UnixStream> {
    std::thread::spawn(move || {
        std::thread::sleep(LATE);
        written.store(true, Ordering::SeqCst);
        stream.write_all(data).expect("write to the peer");
        stream
    })
}

/// What `stream` holds now, without waiting.
fn unread(stream: &UnixStream) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match (&*stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read the stream: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    all
}

// ---------------------------------------------------------------------------
// Lasting transient errors
// ---------------------------------------------------------------------------

/// A scope ends with a read of a socket in flight, and from then on every
/// enter of its thread fails with `EAGAIN`: what `io_submit_sqes` answers
/// while it can allocate no request (a memory cgroup at its limit), for as
/// long as that lasts. Every enter the scope's end makes submits (its
/// cancel request waits in the SQ), so the kernel could answer each so.
///
/// The scope cannot return (its read borrows the buffer), and it waits as
/// `io_uring_enter(2)` asks ("the application should wait for some
/// completions and try again"): without submitting until its next round of
/// cancels (whose synchronous cancel needs no SQ), or, as here where that
/// wait fails too, asleep until then; it must not enter again at once and
/// spin. Measured in a child process over a second, which is then killed:
/// the child must be on a CPU under a quarter of it.
#[test]
fn a_scope_end_whose_submits_fail_with_eagain_waits_rather_than_spins() {
    const NAME: &str = "a_scope_end_whose_submits_fail_with_eagain_waits_rather_than_spins";
    if in_child(NAME) {
        let mut ring = Ring::new(4).unwrap();
        let (rx, mut tx) = UnixStream::pair().unwrap();
        let mut buf = [0xa5u8; 8];
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            assert_eq!(s.submit().unwrap(), 1);
            assert_eq!(s.in_flight(), 1);
            fault::fail_next(Call::Enter, u32::MAX, libc::EAGAIN);
            println!("{MARKER}");
        });
        // Only a scope that ended its read may get here: the read is gone.
        fault::reset();
        tx.write_all(b"after").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(buf, [0xa5; 8], "the buffer changed after the scope");
        assert_eq!(unread(&rx), b"after", "a read outlived its scope");
        println!("the scope returned");
        return;
    }
    if !has_schedstat() {
        return;
    }
    let (wall, cpu, printed) = cpu_of_child(NAME);
    assert!(
        cpu < wall / 4,
        "the scope's end was on a CPU for {cpu:?} of {wall:?} while its submits failed \
         with EAGAIN:\n{printed}"
    );
}

/// A reactor's run with a receive queued (its SQE not yet submitted) and
/// every enter of its thread failing with `EAGAIN`, as a memory cgroup at
/// its limit makes `io_submit_sqes` answer: each enter submits, so the
/// kernel could answer each so. The run cannot make progress; it waits
/// before it tries again (`Core::wait_after_refusal`: for a completion
/// without submitting, or asleep should that fail too), rather than enter
/// again at once and spin. Measured in a child process over a second,
/// which is then killed: under a quarter of it on a CPU.
#[test]
fn a_reactor_run_whose_submits_fail_with_eagain_waits_rather_than_spins() {
    const NAME: &str = "a_reactor_run_whose_submits_fail_with_eagain_waits_rather_than_spins";
    if in_child(NAME) {
        let reactor = Reactor::new().unwrap();
        let (mine, _peer) = UnixStream::pair().unwrap();
        let fd = SharedFd::new(mine);
        reactor
            .queue(rops::Recv::new(&fd, vec![0u8; 8]), |_, _| {})
            .unwrap();
        fault::fail_next(Call::Enter, u32::MAX, libc::EAGAIN);
        println!("{MARKER}");
        let ran = reactor.run();
        println!("the run returned: {ran:?}");
        return;
    }
    if !has_schedstat() {
        return;
    }
    let (wall, cpu, printed) = cpu_of_child(NAME);
    assert!(
        cpu < wall / 4,
        "the reactor's run was on a CPU for {cpu:?} of {wall:?} while its submits failed \
         with EAGAIN:\n{printed}"
    );
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

/// A scope ends with a read of a socket in flight on a ring whose
/// restrictions refuse its cancels (`ASYNC_CANCEL` is not allowed, nor any
/// register opcode: each cancel SQE completes with `-EACCES`, each
/// synchronous cancel fails with `EACCES`), so its end can only wait,
/// through timed waits and rounds, until the peer writes 300 ms later. All
/// that time a signal is sent to the thread every 200 µs, with a handler
/// and without `SA_RESTART`: the kernel ends its waits with `EINTR`
/// (counted as returned by the kernel, not planned). The scope must not
/// return before the write, the buffer holds the bytes written, no
/// completion is left behind, and the ring runs ops afterwards.
#[test]
fn a_scope_end_waits_out_a_storm_of_signals_on_a_ring_that_refuses_its_cancels() {
    const NAME: &str =
        "a_scope_end_waits_out_a_storm_of_signals_on_a_ring_that_refuses_its_cancels";
    in_own_process(NAME, "a scope end under signals", || {
        signals::install_handler();
        let mut ring = Ring::builder().r_disabled().build(8).unwrap();
        ring.register_restrictions(&[Restriction::op::<Read<'static>>(), Restriction::op::<Nop>()])
            .unwrap();
        ring.enable().unwrap();
        let (rx, tx) = UnixStream::pair().unwrap();
        let written = Arc::new(AtomicBool::new(false));
        let writer = write_late(tx, b"late", Arc::clone(&written));
        let handled = signals::handled();
        fault::reset();
        let storm = Storm::on_this_thread();
        let mut buf = [0xa5u8; 4];
        let started = Instant::now();
        ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
            assert_eq!(s.submit().unwrap(), 1);
            assert_eq!(s.in_flight(), 1);
        });
        let waited = started.elapsed();
        let eintr = fault::returned(Call::Enter, libc::EINTR);
        let sent = storm.stop();
        fault::reset();
        let mut tx = writer.join().unwrap();
        assert!(
            written.load(Ordering::SeqCst),
            "the scope returned after {waited:?}, before its read could end"
        );
        assert_eq!(&buf, b"late");
        assert!(
            eintr > 0,
            "no wait of the scope's end was interrupted ({sent} signals sent, {} handled)",
            signals::handled() - handled
        );
        assert!(signals::handled() > handled);
        assert_eq!(ring.completions().count(), 0, "a completion left behind");
        tx.write_all(b"more").unwrap();
        let mut again = [0u8; 4];
        let cqe = uring_tests::complete(&mut ring, Read::new(&rx, &mut again[..]).user_data(9));
        assert_eq!((cqe.user_data(), cqe.res()), (9, 4));
        assert_eq!(&again, b"more");
        eprintln!("{eintr} waits interrupted, {sent} signals sent, over {waited:?}");
    });
}

/// A reactor's run waits for a receive whose peer writes 300 ms later,
/// while a signal is sent to its thread every 200 µs (a handler, no
/// `SA_RESTART`): the waits the kernel ends with `EINTR` (counted as
/// returned by the kernel) are resumed inside `Ring::enter_and_wait`, so
/// the run neither fails nor returns early. Its callback runs once, with
/// the four bytes, and nothing is left in flight.
#[test]
fn a_reactor_run_resumes_its_waits_under_a_storm_of_signals() {
    const NAME: &str = "a_reactor_run_resumes_its_waits_under_a_storm_of_signals";
    in_own_process(NAME, "a reactor run under signals", || {
        signals::install_handler();
        let reactor = Reactor::new().unwrap();
        let (mine, peer) = UnixStream::pair().unwrap();
        let fd = SharedFd::new(mine);
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = Rc::clone(&got);
        reactor
            .queue(
                rops::Recv::new(&fd, vec![0u8; 8]),
                move |r: io::Result<u32>, buf: Vec<u8>| {
                    g.borrow_mut().push((r.map_err(|e| e.raw_os_error()), buf));
                },
            )
            .unwrap();
        let written = Arc::new(AtomicBool::new(false));
        let writer = write_late(peer, b"late", Arc::clone(&written));
        fault::reset();
        let storm = Storm::on_this_thread();
        let started = Instant::now();
        let ran = reactor.run();
        let waited = started.elapsed();
        let eintr = fault::returned(Call::Enter, libc::EINTR);
        let sent = storm.stop();
        fault::reset();
        writer.join().unwrap();
        ran.unwrap();
        assert!(
            written.load(Ordering::SeqCst),
            "the run ended after {waited:?}, before the peer wrote"
        );
        let got = got.borrow();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, Ok(4));
        assert_eq!(&got[0].1[..4], b"late");
        assert_eq!(reactor.in_flight(), 0);
        assert!(
            eintr > 0,
            "no wait of the run was interrupted ({sent} signals sent)"
        );
        eprintln!("{eintr} waits interrupted, {sent} signals sent, over {waited:?}");
    });
}

// ---------------------------------------------------------------------------
// `uring::net` over a reactor whose enters fail
// ---------------------------------------------------------------------------

/// `uring::net` over a reactor whose enter fails. First with `ENOMEM`
/// (`io_uring_add_tctx_node` could not allocate the task's context), which
/// the reactor does not retry: `run_until` of an accept returns that error,
/// the accept (never seen by the kernel) is dropped with its future and
/// ended by the next run, which leaves nothing in flight. Then forty
/// enters in a row fail with `EAGAIN` (no request could be allocated; a
/// few may land on enters that only wait, which the reactor treats the
/// same), which the reactor retries: a whole echo (connect, accept, write,
/// read) still completes, every planned failure was met, and nothing is
/// left.
#[test]
fn net_ops_over_a_reactor_whose_enters_fail_report_or_retry_and_lose_nothing() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    fault::reset();
    fault::fail_next(Call::Enter, 1, libc::ENOMEM);
    match reactor.run_until(listener.accept()) {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e}"),
        Ok(accepted) => panic!("the run went through a failed enter: {accepted:?}"),
    }
    assert_eq!(fault::counts(Call::Enter).injected, 1);
    reactor.run().unwrap();
    assert_eq!(
        reactor.in_flight(),
        0,
        "the dropped accept is still in flight"
    );

    fault::fail_next(Call::Enter, 40, libc::EAGAIN);
    let h2 = h.clone();
    let echoed = reactor
        .run_until(async move {
            let client = TcpStream::connect(&h2, addr).await?;
            let server = listener.accept().await?;
            let (n, _) = client.write_all(b"ping".to_vec()).await;
            n?;
            let (n, buf) = server.read(vec![0u8; 16]).await;
            let n = n?;
            Ok::<_, io::Error>(buf[..n].to_vec())
        })
        .expect("a run whose enters fail with EAGAIN forty times")
        .expect("the echo");
    assert_eq!(echoed, b"ping");
    assert_eq!(
        fault::planned(Call::Enter),
        0,
        "a planned failure was never met"
    );
    assert_eq!(fault::counts(Call::Enter).injected, 41);
    assert_eq!(reactor.in_flight(), 0);
    fault::reset();
}

/// A ring without a descriptor (`registered_fd_only`) made on another
/// thread, which stays alive (so the kernel ring lives, named only by that
/// thread's registered index): every enter of this thread fails with
/// `EBADF`. A reactor over it: `run` fails with `EBADF`, the receive it
/// queued never reaches the kernel (the peer's bytes stay in the socket,
/// its callback never runs), `uring::net`'s connect fails the same and
/// never connects (the listener has nothing to accept), and dropping the
/// reactor returns at once, leaking the op rather than waiting for it.
/// The same ring made disabled cannot be enabled here (`from_ring` fails
/// with `EBADF`).
#[test]
fn a_reactor_over_a_ring_without_a_descriptor_made_elsewhere_fails_with_ebadf() {
    let _watch = watchdog();
    let (rings_tx, rings_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let maker = std::thread::spawn(move || {
        for disabled in [false, true] {
            let builder = Ring::builder().registered_fd_only();
            let builder = if disabled {
                builder.r_disabled()
            } else {
                builder
            };
            rings_tx.send(builder.build(8)).unwrap();
        }
        // The registered indexes are this thread's: it stays alive.
        let _ = done_rx.recv();
    });
    let ring = match rings_rx.recv().unwrap() {
        Ok(ring) => ring,
        Err(e) => {
            drop(done_tx);
            maker.join().unwrap();
            return skip(format_args!("no ring without a descriptor: {e}"));
        }
    };
    assert_eq!(ring.as_raw_fd(), -1);
    let reactor = Reactor::from_ring(ring).unwrap();
    let (mine, mut peer) = UnixStream::pair().unwrap();
    let watch = mine.try_clone().unwrap();
    let fd = SharedFd::new(mine);
    peer.write_all(b"kept").unwrap();
    let called = Rc::new(RefCell::new(0u32));
    let c = Rc::clone(&called);
    reactor
        .queue(rops::Recv::new(&fd, vec![0u8; 8]), move |_, _| {
            *c.borrow_mut() += 1;
        })
        .unwrap();
    let err = reactor.run().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
    assert_eq!(reactor.in_flight(), 1);

    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let h = reactor.handle();
    match reactor.run_until(TcpStream::connect(&h, addr)) {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}"),
        Ok(connected) => panic!("a connect over a ring this thread cannot enter: {connected:?}"),
    }
    std::thread::sleep(Duration::from_millis(20));
    match std_listener.accept() {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}"),
        Ok((_, from)) => panic!("a connection from {from} reached the listener"),
    }

    let dropped_at = Instant::now();
    drop(h);
    drop(reactor);
    assert!(
        dropped_at.elapsed() < BOUND,
        "the drop took {:?}",
        dropped_at.elapsed()
    );
    assert_eq!(
        *called.borrow(),
        0,
        "a callback ran for an op the kernel never had"
    );
    assert_eq!(unread(&watch), b"kept", "the receive ran");

    let disabled = rings_rx.recv().unwrap().unwrap();
    match Reactor::from_ring(disabled) {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}"),
        Ok(_) => panic!("a ring this thread cannot register with was enabled"),
    }
    drop(done_tx);
    maker.join().unwrap();
}

// ---------------------------------------------------------------------------
// Single issuers used from another thread
// ---------------------------------------------------------------------------

/// An SQPOLL ring with `single_issuer`, made on a thread that has ended,
/// used from this one. Its enters never submit (the SQ thread does), so
/// they never meet the single-issuer check: a scope here runs (a NOP
/// completes) and ends its read of a socket with a cancel SQE, which the
/// SQ thread takes. Its register calls are another task's
/// (`__io_uring_register`: `EEXIST`), synchronous cancels included, which
/// the scope's end does not need. After the scope the read is gone
/// (bytes written later stay in the socket), the buffer is untouched, and
/// no completion is left behind.
#[test]
fn an_sqpoll_single_issuer_ring_used_elsewhere_ends_its_scope_without_register_calls() {
    let _watch = watchdog();
    if !require_sqpoll() {
        return;
    }
    let made = std::thread::spawn(|| {
        Builder::new()
            .sqpoll(Duration::from_millis(10))
            .single_issuer()
            .build(8)
    })
    .join()
    .unwrap();
    let mut ring = match made {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no SQPOLL single-issuer ring: {e}")),
    };
    match ring.cancel_sync(SyncCancel::any(), Some(Duration::ZERO)) {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}"),
        Ok(()) => panic!("a register call from a task that is not the submitter"),
    }
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 8];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.push(Nop::new().user_data(2)).unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (2, 0));
        assert_eq!(s.in_flight(), 1);
    });
    assert_eq!(ring.completions().count(), 0, "a completion left behind");
    tx.write_all(b"after").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(buf, [0xa5; 8], "the buffer changed after the scope");
    assert_eq!(unread(&rx), b"after", "a read outlived its scope");
    assert_eq!(ring.completions().count(), 0);
}

/// A `defer_taskrun` ring's scope, whose `&mut` goes to another thread:
/// there, pushes are taken, but every enter is another task's
/// (`io_uring_add_tctx_node` refuses a submit, `io_cqring_wait` a wait):
/// `submit`, `submit_and_wait`, `get_events` and `wait_timeout` each fail
/// with `EEXIST` (not `TimedOut`), and the SQEs stay queued. Back on the
/// ring's own thread the scope submits them: the NOP and the read each
/// complete once, the read with the bytes written, and nothing is left.
#[test]
fn a_defer_ring_scope_moved_to_another_thread_keeps_its_refused_sqes_for_its_owner() {
    let _watch = watchdog();
    let mut ring = match Ring::builder().single_issuer().defer_taskrun().build(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no DEFER_TASKRUN ring: {e}")),
    };
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 4];
    let eexist = |r: uring::Result<()>, what: &str| match r {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{what}: {e}"),
        Ok(()) => panic!("{what} went through from another task"),
    };
    let seen = ring.scope(|s| {
        std::thread::scope(|t| {
            t.spawn(|| {
                s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
                s.push(Nop::new().user_data(2)).unwrap();
                eexist(s.submit().map(drop), "submit");
                eexist(s.submit_and_wait(1).map(drop), "submit_and_wait");
                eexist(s.get_events(), "get_events");
                eexist(s.wait_timeout(1, Duration::from_millis(10)), "wait_timeout");
                assert_eq!(s.in_flight(), 2);
            })
            .join()
            .unwrap();
        });
        assert_eq!(s.space_left(), 6, "the refused SQEs are still queued");
        tx.write_all(b"data").unwrap();
        assert_eq!(s.submit_and_wait(2).unwrap(), 2);
        let mut seen: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        seen.sort_unstable();
        assert_eq!(s.in_flight(), 0);
        seen
    });
    assert_eq!(seen, [(1, 4), (2, 0)]);
    assert_eq!(&buf, b"data");
    assert_eq!(ring.completions().count(), 0);
}
