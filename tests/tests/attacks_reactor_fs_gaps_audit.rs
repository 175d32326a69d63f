//! The reactor's file-system ops and the io-wq workers that run them,
//! attacked where the existing suites (`reactor_ops.rs`,
//! `reactor_fd_ops.rs`, `attacks_reactor_ops_source_audit.rs`,
//! `attacks_reactor_futures_gaps_audit.rs`, `attacks_workers_gaps_audit.rs`,
//! `attacks_fs_ops_gaps_audit.rs`) stop short: every kind of fs op
//! (`MkdirAt`, `UnlinkAt`, `RenameAt`, `Fallocate`, `Fsync`, `Statx`, an
//! `OpenAt` that creates) held in io-wq's queue behind the only worker,
//! cancelled there by id (none may run once the worker is free, each
//! callback runs once); deadlines on ops waiting for a worker (an op the
//! kernel forces to io-wq is never cut, a read punted there after a
//! non-blocking try is); reactors dropped with few (the synchronous-cancel
//! path) and hundreds (cancels by tag) of ops in the queue, reads among
//! them with canary bytes (the shutdown frees the worker first, which then
//! runs ops whose cancel has not come yet: each must end once, saying what
//! it did); read futures dropped in the queue, with freshly
//! allocated buffers watched once the worker runs again; two reactors of
//! one thread, one's blocked worker holding the other's ops; a forgotten
//! future's op in the queue at its reactor's drop, and a forgotten
//! reactor's queue at its thread's exit (the work runs, into memory never
//! freed); worker limits registered on a thread without a pool and the
//! ring then driven on a thread that has one; worker affinity registered
//! through a ring then driven by another thread; `create_many` rings on two
//! threads; the fs ops'
//! errors (EBADF, EISDIR, ENOTDIR, EEXIST, ENOENT, ENOTEMPTY, EINVAL,
//! EFBIG, ESPIPE, ENAMETOOLONG), with and without a deadline, against the
//! system calls; and what an `OpenAt` of a FIFO does that `openat(2)` does
//! not.
//!
//! Read against Linux 6.18: `io_uring/io-wq.c` (`io_wq_enqueue`,
//! `io_wq_cancel_cb`, `io_wq_remove_pending`, `io_wq_max_workers`,
//! `io_wq_cpu_affinity`; work of a regular file or of no file is bounded),
//! `io_uring/tctx.c` (`__io_uring_add_tctx_node`: a ring's stored limits
//! are applied only to a task context made then; `io_init_wq_offload`),
//! `io_uring/register.c` (`io_register_iowq_max_workers`,
//! `__io_register_iowq_aff`, which sets the calling task's pool),
//! `io_uring/io_uring.c`'s `io_uring_create` (which makes the creator's
//! task context, and so its pool) and `io_uring_cancel_generic` (at a
//! task's exit, without `cancel_all`, only requests that track files),
//! `io_uring/cancel.c` (`io_try_cancel`, `__io_async_cancel`),
//! `io_uring/io_uring.c` (`__io_issue_sqe`, which since "io_uring: always
//! arm linked timeouts prior to issue" queues the link timeout once the
//! op's first issue returns; `io_queue_iowq`; `io_queue_async`, which
//! sends an op that returned `-EAGAIN` and cannot be polled to io-wq),
//! `io_uring/timeout.c` (`io_queue_linked_timeout`,
//! `io_req_task_link_timeout`), `io_uring/openclose.c` (`io_openat_prep`,
//! `io_openat_force_async`, `io_openat2`: `O_NONBLOCK` and
//! `LOOKUP_CACHED` for the inline try, `-ENXIO` of a FIFO with no reader
//! passed on as is), `io_uring/fs.c`, `io_uring/statx.c`,
//! `io_uring/sync.c` (fsync and fallocate are forced to io-wq) and
//! `fs/pipe.c` (`fifo_open`).
//!
//! Every test is safe code against the running kernel and checks what it
//! did: results and errno (against the system call where there is one),
//! how many times each callback ran, which files exist afterwards, the
//! io-wq workers of the thread, and canary bytes in the buffers lent and in
//! buffers allocated afterwards. `unsafe` appears only for the system
//! calls the results are compared with, each with a `// SAFETY:` comment.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::reactor::ops::{
    Fallocate, Fsync, MkdirAt, Nop, OpenAt, Read, RenameAt, Statx, UnlinkAt,
};
use uring::reactor::{OpId, Reactor, SharedFd};
use uring::{IoWqWorkers, Ring};
use uring_tests::fifo::{
    has_reader as fifo_has_reader, my_workers, open_writer as unblock, temp_fifo as fifo,
};
use uring_tests::reactor::drive_until;
use uring_tests::{cpath, poll_once, run_for, skip, watchdog};

/// The byte the buffers lent to reads are filled with.
const CANARY: u8 = 0xa5;
/// The byte of buffers allocated once a dropped read might still run.
const SPRAY: u8 = 0x5a;
/// How long an op that is not held may take at most.
const PROMPT: Duration = Duration::from_secs(2);

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// An open of the FIFO for reading with `O_CREAT`: forced to io-wq (bounded
/// work, having no file), where it waits for a writer.
fn blocking_open(path: &Path) -> OpenAt {
    OpenAt::new(cpath(path), libc::O_RDONLY | libc::O_CREAT, 0o600)
}

const ONE: IoWqWorkers = IoWqWorkers {
    bounded: 1,
    unbounded: 1,
};

/// A reactor's ring whose task may run one io-wq worker of each kind, or
/// `None` with a skip message.
fn one_worker_ring(builder: uring::Builder<'_>) -> Option<Ring> {
    let mut ring = builder.build(64).unwrap();
    if let Err(e) = ring.set_iowq_max_workers(ONE) {
        skip(format_args!("no io-wq limits: {e}"));
        return None;
    }
    Some(ring)
}

fn one_worker_reactor() -> Option<Reactor> {
    Some(Reactor::from_ring(one_worker_ring(Reactor::ring_builder())?).unwrap())
}

/// What callbacks record, for the test to read.
type Shared<T> = Rc<RefCell<T>>;

/// A read's errno, buffer and when it ended.
type ReadEnd = (Option<i32>, Vec<u8>, Instant);

/// The index of a read, its result and its buffer.
type ReadResult = (usize, io::Result<u32>, Vec<u8>);

/// What a blocked open's callback saw: its errno (0 for a success) and
/// its descriptor.
type Opened = Shared<Vec<(Option<i32>, Option<OwnedFd>)>>;

/// Queues an open of the FIFO that blocks in an io-wq worker, runs the
/// reactor until it does, and returns where its callback reports.
fn block_the_worker(reactor: &Reactor, fifo: &Path) -> Opened {
    let opened: Opened = Rc::default();
    let o = Rc::clone(&opened);
    let before = reactor.in_flight();
    reactor
        .queue(blocking_open(fifo), move |r, fd| {
            o.borrow_mut().push((errno(&r), fd));
        })
        .unwrap();
    run_for(reactor, 100);
    assert_eq!(
        reactor.in_flight(),
        before + 1,
        "the FIFO's open did not block"
    );
    opened
}

/// A descriptor of a procfs file, which reads without `IOCB_NOWAIT`
/// support: a read of it fails its non-blocking try with `-EAGAIN`, and,
/// once a poll says ready and it fails again, goes to io-wq (bounded work:
/// the file is regular).
fn proc_file() -> SharedFd {
    SharedFd::new(std::fs::File::open("/proc/self/stat").unwrap())
}

// ---------------------------------------------------------------------------
// Cancel by id in io-wq's queue
// ---------------------------------------------------------------------------

/// Seven fs ops wait in io-wq's queue behind the only worker, held by an
/// open of a FIFO. Cancelled by their ids, each ends `ECANCELED`, once,
/// within the bound, with the worker still blocked; a second cancel of each
/// id finds nothing. The worker is then let go: the open completes with its
/// descriptor, and none of the seven ever ran (no directory made, no file
/// removed, renamed, grown or created, the `statx` the op lent unwritten).
#[test]
fn fs_ops_waiting_for_the_only_worker_end_cancelled_by_id_and_never_run() {
    let _watch = watchdog();
    let Some((dir, fifo)) = fifo() else {
        return;
    };
    let Some(reactor) = one_worker_reactor() else {
        return;
    };
    let base = dir.path();
    std::fs::write(base.join("victim"), b"keep").unwrap();
    std::fs::write(base.join("from"), b"from").unwrap();
    let data = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(base.join("data"))
        .unwrap();
    let file = SharedFd::new(data);

    let opened = block_the_worker(&reactor, &fifo);
    let results: Shared<Vec<(&'static str, Option<i32>)>> = Rc::default();
    let stx_mask = Rc::new(Cell::new(u32::MAX));
    let mut ids: Vec<OpId> = Vec::new();
    macro_rules! queue {
        ($name:literal, $op:expr) => {{
            let r = Rc::clone(&results);
            ids.push(
                reactor
                    .queue($op, move |res, _| r.borrow_mut().push(($name, errno(&res))))
                    .unwrap(),
            );
        }};
    }
    queue!("mkdir", MkdirAt::new(cpath(&base.join("newdir")), 0o700));
    queue!("unlink", UnlinkAt::new(cpath(&base.join("victim"))));
    queue!(
        "rename",
        RenameAt::new(cpath(&base.join("from")), cpath(&base.join("to")))
    );
    queue!("fallocate", Fallocate::new(&file, 0, 1 << 20));
    queue!("fsync", Fsync::new(&file));
    queue!(
        "open",
        OpenAt::new(
            cpath(&base.join("created")),
            libc::O_CREAT | libc::O_RDWR,
            0o600
        )
    );
    {
        let (r, m) = (Rc::clone(&results), Rc::clone(&stx_mask));
        ids.push(
            reactor
                .queue(Statx::new(cpath(&base.join("victim"))), move |res, st| {
                    m.set(st.stx_mask);
                    r.borrow_mut().push(("statx", errno(&res)));
                })
                .unwrap(),
        );
    }
    run_for(&reactor, 100);
    assert_eq!(
        reactor.in_flight(),
        8,
        "an fs op ran beside the blocked worker: {:?}",
        results.borrow()
    );
    assert_eq!(my_workers(), 1, "the io-wq limit was not applied");
    for &id in &ids {
        assert!(reactor.cancel(id).unwrap(), "{id:?} was not in flight");
    }
    assert!(
        drive_until(&reactor, PROMPT, || reactor.in_flight() == 1),
        "the queued ops did not end: {:?}",
        results.borrow()
    );
    let mut got = results.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        [
            ("fallocate", Some(libc::ECANCELED)),
            ("fsync", Some(libc::ECANCELED)),
            ("mkdir", Some(libc::ECANCELED)),
            ("open", Some(libc::ECANCELED)),
            ("rename", Some(libc::ECANCELED)),
            ("statx", Some(libc::ECANCELED)),
            ("unlink", Some(libc::ECANCELED)),
        ]
    );
    assert_eq!(stx_mask.get(), 0, "the cancelled statx wrote its output");
    for &id in &ids {
        assert!(
            !reactor.cancel(id).unwrap(),
            "a stale id cancelled something"
        );
    }
    assert!(opened.borrow().is_empty(), "the blocked open ended");

    let writer = unblock(&fifo);
    assert!(drive_until(&reactor, PROMPT, || reactor.in_flight() == 0));
    let _writer = writer.join().unwrap();
    run_for(&reactor, 50);
    {
        let opened = opened.borrow();
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].0, None, "the open failed");
        assert!(opened[0].1.is_some(), "the open gave no descriptor");
    }
    assert_eq!(results.borrow().len(), 7, "a callback ran twice");
    assert!(!base.join("newdir").exists(), "the cancelled mkdir ran");
    assert_eq!(std::fs::read(base.join("victim")).unwrap(), b"keep");
    assert!(base.join("from").exists() && !base.join("to").exists());
    assert_eq!(std::fs::metadata(base.join("data")).unwrap().len(), 0);
    assert!(!base.join("created").exists(), "the cancelled open ran");
}

// ---------------------------------------------------------------------------
// Deadlines while waiting for a worker
// ---------------------------------------------------------------------------

/// A deadline is a link timeout, which Linux 6.15 and later arm once the
/// op's first issue returns. An op the kernel forces to io-wq (here a
/// `statx` and a `mkdirat`) is first issued by the worker that runs it: while
/// it waits in io-wq's queue for that worker, no timer runs, and a deadline
/// 50 ms away does not end it in 400 ms; when the worker is free, it runs to
/// its end, past its deadline, successfully. A read of a file without
/// non-blocking reads is issued inline first (`-EAGAIN`), which arms its
/// timeout, and then waits in the same queue: its deadline ends it there,
/// `ECANCELED`, with its buffer untouched, while the worker is still held.
#[test]
fn a_deadline_never_cuts_a_forced_async_op_waiting_for_a_worker_but_cuts_a_punted_read() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 15, "link timeouts armed at the first issue") {
        return;
    }
    let Some((dir, fifo)) = fifo() else {
        return;
    };
    let Some(reactor) = one_worker_reactor() else {
        return;
    };
    let base = dir.path();
    std::fs::write(base.join("sized"), [7u8; 1234]).unwrap();

    // The forced ones.
    let opened = block_the_worker(&reactor, &fifo);
    let results: Shared<BTreeMap<&'static str, (Option<i32>, Instant)>> = Rc::default();
    let size = Rc::new(Cell::new(0u64));
    let deadline = Instant::now() + Duration::from_millis(50);
    {
        let (r, s) = (Rc::clone(&results), Rc::clone(&size));
        reactor
            .queue_with_deadline(
                Statx::new(cpath(&base.join("sized"))),
                deadline,
                move |res, st| {
                    s.set(st.stx_size);
                    r.borrow_mut()
                        .insert("statx", (errno(&res), Instant::now()));
                },
            )
            .unwrap();
        let r = Rc::clone(&results);
        reactor
            .queue_with_deadline(
                MkdirAt::new(cpath(&base.join("late")), 0o700),
                deadline,
                move |res, ()| {
                    r.borrow_mut()
                        .insert("mkdir", (errno(&res), Instant::now()));
                },
            )
            .unwrap();
    }
    run_for(&reactor, 400);
    assert_eq!(
        reactor.in_flight(),
        3,
        "a deadline ended an op waiting for a worker: {:?}",
        results.borrow()
    );
    assert!(!base.join("late").exists());
    let released = Instant::now();
    let writer = unblock(&fifo);
    assert!(drive_until(&reactor, PROMPT, || reactor.in_flight() == 0));
    // Closed, so that the next open of the FIFO waits for a writer again.
    drop(writer.join().unwrap());
    {
        let results = results.borrow();
        assert_eq!(results.len(), 2);
        for (name, (e, at)) in results.iter() {
            assert_eq!(*e, None, "{name} failed past its deadline");
            assert!(*at >= released, "{name} ended before the worker was free");
        }
    }
    assert_eq!(size.get(), 1234);
    assert!(
        base.join("late").is_dir(),
        "the mkdir past its deadline did not run"
    );
    assert_eq!(opened.borrow().len(), 1);

    // The punted read.
    let _opened = block_the_worker(&reactor, &fifo);
    let proc = proc_file();
    let got: Shared<Option<ReadEnd>> = Rc::default();
    let g = Rc::clone(&got);
    let queued = Instant::now();
    reactor
        .queue_with_deadline(
            Read::new(&proc, vec![CANARY; 512], 0),
            queued + Duration::from_millis(50),
            move |res, buf| *g.borrow_mut() = Some((errno(&res), buf, Instant::now())),
        )
        .unwrap();
    assert!(
        drive_until(&reactor, PROMPT, || got.borrow().is_some()),
        "the read's deadline did not end it"
    );
    assert_eq!(reactor.in_flight(), 1, "the worker's open ended");
    let (e, buf, at) = got.borrow_mut().take().unwrap();
    assert_eq!(e, Some(libc::ECANCELED), "the read was not held in io-wq");
    assert!(
        at >= queued + Duration::from_millis(50),
        "ended before its deadline"
    );
    assert!(buf.iter().all(|&b| b == CANARY), "the cancelled read wrote");
    let writer = unblock(&fifo);
    assert!(drive_until(&reactor, PROMPT, || reactor.in_flight() == 0));
    drop(writer.join().unwrap());
}

// ---------------------------------------------------------------------------
// A reactor dropped with ops in io-wq's queue
// ---------------------------------------------------------------------------

/// The reactor is dropped with `n` ops waiting in io-wq's queue behind an
/// open blocked in the only worker: half `mkdirat`s, half reads of a procfs
/// file into canary-filled buffers. The drop returns within the bound; the
/// open ends `EINTR` (its worker interrupted), each callback runs once. The
/// shutdown cancels by tag in slot order, the blocked open first: the
/// worker it frees takes the next op of io-wq's queue whose cancel has not
/// come yet, and runs it (with hundreds queued, some always do). So each
/// op ends either `ECANCELED`, having done nothing (no directory, every
/// canary byte of its buffer intact), or with its own success, having done
/// exactly that (its directory made; its count of bytes read, the rest of
/// the buffer intact). The directories there are exactly those whose
/// callbacks said so, and the FIFO is left with no reader. Returns how many
/// ops ran.
fn dropped_with_ops_in_the_queue(n: usize) -> usize {
    let Some((dir, fifo)) = fifo() else {
        return 0;
    };
    let Some(reactor) = one_worker_reactor() else {
        return 0;
    };
    let opened = block_the_worker(&reactor, &fifo);
    let proc = proc_file();
    let mkdirs: Shared<Vec<(usize, Option<i32>)>> = Rc::default();
    let reads: Shared<Vec<ReadResult>> = Rc::default();
    for i in 0..n {
        if i % 2 == 0 {
            let m = Rc::clone(&mkdirs);
            reactor
                .queue(
                    MkdirAt::new(cpath(&dir.path().join(format!("d{i}"))), 0o700),
                    move |r, ()| m.borrow_mut().push((i, errno(&r))),
                )
                .unwrap();
        } else {
            let r = Rc::clone(&reads);
            reactor
                .queue(Read::new(&proc, vec![CANARY; 256], 0), move |res, buf| {
                    r.borrow_mut().push((i, res, buf));
                })
                .unwrap();
        }
    }
    run_for(&reactor, 100);
    assert_eq!(
        reactor.in_flight() as usize,
        n + 1,
        "an op ran beside the blocked worker"
    );
    let started = Instant::now();
    drop(reactor);
    let took = started.elapsed();
    assert!(took < PROMPT, "the drop took {took:?}");
    {
        let opened = opened.borrow();
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].0, Some(libc::EINTR));
        assert!(opened[0].1.is_none());
    }
    let mkdirs = mkdirs.borrow();
    let reads = reads.borrow();
    assert_eq!(
        mkdirs.len() + reads.len(),
        n,
        "a callback was lost or ran twice"
    );
    let mut seen: Vec<usize> = mkdirs
        .iter()
        .map(|m| m.0)
        .chain(reads.iter().map(|r| r.0))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
    let mut ran = 0;
    for (i, e) in mkdirs.iter() {
        let made = dir.path().join(format!("d{i}")).is_dir();
        match e {
            Some(libc::ECANCELED) => assert!(!made, "mkdir {i} was cancelled, yet ran"),
            None => {
                assert!(made, "mkdir {i} succeeded, yet made nothing");
                ran += 1;
            }
            other => panic!("mkdir {i}: errno {other:?}"),
        }
    }
    for (i, r, buf) in reads.iter() {
        assert_eq!(buf.len(), 256, "read {i}");
        let untouched = match r {
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "read {i}");
                0
            }
            Ok(count) => {
                ran += 1;
                assert!(*count > 0 && *count <= 256, "read {i}: {count}");
                *count as usize
            }
        };
        assert!(
            buf[untouched..].iter().all(|&b| b == CANARY),
            "read {i} wrote past what it reported ({r:?})"
        );
    }
    assert!(!fifo_has_reader(&fifo));
    let made = std::fs::read_dir(dir.path()).unwrap().count() - 1;
    let said = mkdirs.iter().filter(|m| m.1.is_none()).count();
    assert_eq!(
        made, said,
        "directories made against callbacks that said so"
    );
    ran
}

/// Few ops: the shutdown's second round cancels them synchronously.
#[test]
fn a_reactor_dropped_with_a_few_fs_ops_waiting_for_a_worker_ends_each_once() {
    let _watch = watchdog();
    let ran = dropped_with_ops_in_the_queue(8);
    eprintln!("{ran} of 8 ran during the shutdown");
}

/// Hundreds: more than the shutdown cancels synchronously, each by its tag.
#[test]
fn a_reactor_dropped_with_hundreds_of_fs_ops_waiting_for_a_worker_ends_each_once() {
    let _watch = watchdog();
    let ran = dropped_with_ops_in_the_queue(300);
    eprintln!("{ran} of 300 ran during the shutdown");
}

/// Read futures whose reads wait in io-wq's queue are dropped: each drop
/// cancels its read (ended within the bound, with the worker still held),
/// and the buffers stay with the reactor until then. Buffers of the same
/// size allocated after, while the worker is let go and the reactor runs
/// on, receive nothing.
#[test]
fn read_futures_dropped_while_waiting_for_a_worker_write_nothing_after() {
    let _watch = watchdog();
    let Some((_dir, fifo)) = fifo() else {
        return;
    };
    let Some(reactor) = one_worker_reactor() else {
        return;
    };
    let _opened = block_the_worker(&reactor, &fifo);
    let proc = proc_file();
    let mut futures: Vec<_> = (0..16)
        .map(|_| reactor.op(Read::new(&proc, Vec::with_capacity(256), 0)))
        .collect();
    for f in &mut futures {
        assert!(poll_once(f).is_pending());
    }
    run_for(&reactor, 100);
    assert_eq!(
        reactor.in_flight(),
        17,
        "a read ran beside the blocked worker"
    );
    drop(futures);
    assert!(
        drive_until(&reactor, PROMPT, || reactor.in_flight() == 1),
        "the dropped futures' reads did not end"
    );
    let spray: Vec<Vec<u8>> = (0..64).map(|_| vec![SPRAY; 256]).collect();
    let writer = unblock(&fifo);
    assert!(drive_until(&reactor, PROMPT, || reactor.in_flight() == 0));
    drop(writer.join().unwrap());
    run_for(&reactor, 50);
    assert!(
        spray.iter().all(|b| b.iter().all(|&x| x == SPRAY)),
        "a dropped read wrote into memory allocated after it"
    );
    // The same read, not dropped, does go through io-wq and completes.
    let (r, buf) = reactor
        .run_until(reactor.op(Read::new(&proc, Vec::with_capacity(256), 0)))
        .unwrap();
    let n = r.unwrap() as usize;
    assert!(n > 0 && buf.len() == n);
}

// ---------------------------------------------------------------------------
// Pools shared by the reactors of a thread, and not by threads
// ---------------------------------------------------------------------------

/// io-wq is the thread's, not the ring's: reactor A (whose ring set the
/// limit of one worker, at A's first submission) and reactor B (no limit
/// of its own) run their fs ops in one pool. B's open blocks the one
/// worker; A's `statx` and `mkdirat` then wait behind it. A cancels its
/// `statx` by id (`ECANCELED`), and A's drop ends its `mkdirat`
/// (`ECANCELED`), within the bound, each callback once, without touching
/// B's open, which completes with a descriptor once a writer comes.
#[test]
fn two_reactors_of_one_thread_share_its_pool_and_each_cancels_only_its_own() {
    let _watch = watchdog();
    let Some((dir, fifo)) = fifo() else {
        return;
    };
    let Some(a) = one_worker_reactor() else {
        return;
    };
    // A's first submission makes the thread's pool, with A's limits.
    let (r, ()) = a.run_until(a.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
    let b = Reactor::new().unwrap();
    let opened = block_the_worker(&b, &fifo);
    assert_eq!(my_workers(), 1, "the pool is not shared or not limited");

    let results: Shared<Vec<(&'static str, Option<i32>)>> = Rc::default();
    let r = Rc::clone(&results);
    let mask = Rc::new(Cell::new(u32::MAX));
    let m = Rc::clone(&mask);
    let statx = a
        .queue(Statx::new(cpath(&fifo)), move |res, st| {
            m.set(st.stx_mask);
            r.borrow_mut().push(("statx", errno(&res)));
        })
        .unwrap();
    let r = Rc::clone(&results);
    a.queue(
        MkdirAt::new(cpath(&dir.path().join("a")), 0o700),
        move |res, ()| {
            r.borrow_mut().push(("mkdir", errno(&res)));
        },
    )
    .unwrap();
    run_for(&a, 200);
    assert_eq!(a.in_flight(), 2, "A's ops ran beside B's blocked worker");
    assert!(a.cancel(statx).unwrap());
    assert!(drive_until(&a, PROMPT, || a.in_flight() == 1));
    assert_eq!(*results.borrow(), [("statx", Some(libc::ECANCELED))]);
    assert_eq!(mask.get(), 0, "the cancelled statx wrote its output");
    let started = Instant::now();
    drop(a);
    assert!(started.elapsed() < PROMPT);
    assert_eq!(
        *results.borrow(),
        [
            ("statx", Some(libc::ECANCELED)),
            ("mkdir", Some(libc::ECANCELED))
        ]
    );
    run_for(&b, 50);
    assert_eq!(b.in_flight(), 1, "A's drop ended B's open");
    assert!(opened.borrow().is_empty());
    let writer = unblock(&fifo);
    assert!(drive_until(&b, PROMPT, || b.in_flight() == 0));
    drop(writer.join().unwrap());
    let opened = opened.borrow();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].0, None);
    assert!(opened[0].1.is_some());
    assert!(!dir.path().join("a").exists(), "A's cancelled mkdir ran");
}

/// Queues three opens of the FIFO that block, on the calling thread's new
/// reactor over `ring`, and returns how many io-wq workers the thread then
/// runs; the reactor's drop ends them.
fn workers_for_three_blocked_opens(ring: Ring, fifo: &Path) -> usize {
    let reactor = Reactor::from_ring(ring).unwrap();
    let ended = Rc::new(Cell::new(0));
    for _ in 0..3 {
        let e = Rc::clone(&ended);
        reactor
            .queue(blocking_open(fifo), move |r, fd| {
                assert!(r.is_err() && fd.is_none());
                e.set(e.get() + 1);
            })
            .unwrap();
    }
    run_for(&reactor, 200);
    assert_eq!(reactor.in_flight(), 3, "an open did not block");
    let workers = my_workers();
    drop(reactor);
    assert_eq!(ended.get(), 3);
    workers
}

/// Limits registered on a ring from a thread without a pool (neither
/// creating nor submitting to a ring makes one there) are kept by the ring
/// (the call reads back zeros). Driven on a fresh thread, the ring makes
/// that thread's pool with them: three blocked opens, one worker. Driven
/// on a thread that already has a pool (from another reactor), the ring's
/// limits are never applied (`__io_uring_add_tctx_node` applies them only
/// to a task context it makes): the same three opens get three workers.
#[test]
fn limits_kept_by_a_ring_reach_only_a_thread_without_a_pool() {
    let _watch = watchdog();
    let Some((_dir, fifo)) = fifo() else {
        return;
    };
    // Created on a thread of their own (creating a ring makes the
    // creator's pool), for limits set from another.
    let rings = std::thread::spawn(|| {
        (0..2)
            .map(|_| Reactor::ring_builder().r_disabled().build(64).unwrap())
            .collect::<Vec<Ring>>()
    })
    .join()
    .unwrap();
    let made = std::thread::spawn(move || {
        let mut rings = rings;
        for ring in &mut rings {
            match ring.set_iowq_max_workers(ONE) {
                Ok(before) => assert_eq!(
                    before,
                    IoWqWorkers {
                        bounded: 0,
                        unbounded: 0
                    },
                    "the thread had a pool"
                ),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(rings)
    })
    .join()
    .unwrap();
    let mut rings = match made {
        Ok(rings) => rings,
        Err(e) => {
            skip(format_args!("no io-wq limits: {e}"));
            return;
        }
    };
    let second = rings.pop().unwrap();
    let first = rings.pop().unwrap();
    let f = fifo.clone();
    let fresh = std::thread::spawn(move || workers_for_three_blocked_opens(first, &f))
        .join()
        .unwrap();
    assert_eq!(fresh, 1, "the ring's limits did not make the new pool");
    let f = fifo.clone();
    let pooled = std::thread::spawn(move || {
        let other = Reactor::new().unwrap();
        let (r, ()) = other.run_until(other.op(Nop)).unwrap();
        assert_eq!(r.unwrap(), 0);
        workers_for_three_blocked_opens(second, &f)
    })
    .join()
    .unwrap();
    assert_eq!(
        pooled, 3,
        "the ring's limits were applied to a pool that existed before"
    );
    assert!(!fifo_has_reader(&fifo));
}

/// Creating a ring makes its creator's worker pool (`io_uring_create`
/// calls `__io_uring_add_tctx_node`), as `set_iowq_max_workers` says: a
/// thread that created a ring and never submitted reads the pool's
/// defaults, not the zeros of a thread without a pool (its bounded limit
/// is the smaller of the ring's SQ entries and four per CPU, its unbounded
/// limit `RLIMIT_NPROC`).
#[test]
fn a_thread_that_only_created_a_ring_reads_its_pool_s_default_limits() {
    let _watch = watchdog();
    let read = std::thread::spawn(|| {
        let mut ring = Ring::new(4).unwrap();
        ring.iowq_max_workers().map_err(|e| e.to_string())
    })
    .join()
    .unwrap();
    let read = match read {
        Ok(read) => read,
        Err(e) => {
            skip(format_args!("no io-wq limits: {e}"));
            return;
        }
    };
    // The ring's 4 SQ entries, fewer than four per CPU on any machine.
    assert_eq!(read.bounded, 4, "{read:?}");
    assert!(read.unbounded > 0, "{read:?}");
}

/// `create_many`'s attached ring, driven on another thread than its
/// owner, shares no worker with it: the owner's only worker is blocked
/// (its ring set the limit of one), and the attached ring's `statx` and
/// `mkdirat` complete at once, successfully.
#[test]
fn an_attached_ring_on_another_thread_is_not_held_by_its_owner_s_blocked_worker() {
    let _watch = watchdog();
    let Some((dir, fifo)) = fifo() else {
        return;
    };
    let builder = Reactor::ring_builder().r_disabled();
    let mut rings = match Ring::create_many(2, 64, 1, &builder) {
        Ok(rings) => rings,
        Err(e) => {
            skip(format_args!("no attached rings: {e}"));
            return;
        }
    };
    let attached = rings.pop().unwrap();
    let mut owner = rings.pop().unwrap();
    assert!(attached.attached_wq().is_some());
    if let Err(e) = owner.set_iowq_max_workers(ONE) {
        skip(format_args!("no io-wq limits: {e}"));
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (blocked_tx, blocked_rx) = std::sync::mpsc::channel::<usize>();
    let f = fifo.clone();
    let owner_thread = std::thread::spawn(move || {
        let reactor = Reactor::from_ring(owner).unwrap();
        let opened = block_the_worker(&reactor, &f);
        blocked_tx.send(my_workers()).unwrap();
        // Held until the other thread is done.
        rx.recv().unwrap();
        drop(reactor);
        let opened = opened.borrow();
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].0, Some(libc::EINTR));
    });
    assert_eq!(blocked_rx.recv().unwrap(), 1);
    let target = dir.path().join("made");
    let took = std::thread::spawn(move || {
        let reactor = Reactor::from_ring(attached).unwrap();
        let started = Instant::now();
        let (r, st) = reactor
            .run_until(reactor.op(Statx::new(cpath(&fifo))))
            .unwrap();
        assert_eq!(r.unwrap(), 0);
        assert_eq!(st.stx_mode as u32 & libc::S_IFMT, libc::S_IFIFO);
        let (r, ()) = reactor
            .run_until(reactor.op(MkdirAt::new(cpath(&target), 0o700)))
            .unwrap();
        assert_eq!(r.unwrap(), 0);
        started.elapsed()
    })
    .join()
    .unwrap();
    tx.send(()).unwrap();
    owner_thread.join().unwrap();
    assert!(took < PROMPT, "the attached ring's ops took {took:?}");
    assert!(dir.path().join("made").is_dir());
}

// ---------------------------------------------------------------------------
// Errors as values, as the system calls give them
// ---------------------------------------------------------------------------

/// The errno of a system call's return (`None` for a success).
fn sys(rc: libc::c_int) -> Option<i32> {
    (rc < 0).then(|| io::Error::last_os_error().raw_os_error().unwrap())
}

/// Runs `op` twice on the reactor, as a future and with a far deadline
/// through a callback, and returns the errno of each.
fn both_ways<O: uring::reactor::Op, F: Fn() -> O>(reactor: &Reactor, op: F) -> [Option<i32>; 2] {
    let (r, _) = reactor.run_until(reactor.op(op())).unwrap();
    let plain = errno(&r);
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = Rc::clone(&got);
    reactor
        .queue_with_deadline(
            op(),
            Instant::now() + Duration::from_secs(30),
            move |r, _| {
                g.borrow_mut().push(errno(&r));
            },
        )
        .unwrap();
    assert!(drive_until(reactor, PROMPT, || !got.borrow().is_empty()));
    run_for(reactor, 5);
    let got = got.borrow();
    assert_eq!(got.len(), 1, "the callback ran {} times", got.len());
    [plain, got[0]]
}

/// Every fs op's failures come back as the errno the matching system call
/// gives, as a future and with a deadline (one callback each): allocations
/// at impossible offsets and lengths and on descriptors that cannot take
/// them (`O_PATH`, read-only, a pipe), syncs of those, `statx` with flags
/// and masks it refuses, opens with every flag bit, of a directory for
/// writing, of a file as a directory, exclusive creations of what exists,
/// paths of `PATH_MAX` bytes (refused when the kernel copies them, before
/// the op runs), directories relative to a file, removals of what is not
/// empty or not there, renames with contradictory or unknown flags.
#[test]
fn fs_errors_come_back_as_the_system_calls_give_them() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let file_path = base.join("file");
    std::fs::write(&file_path, b"0123456789").unwrap();
    std::fs::create_dir(base.join("full")).unwrap();
    std::fs::write(base.join("full/inside"), b"x").unwrap();
    let rw = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&file_path)
        .unwrap();
    let ro = std::fs::File::open(&file_path).unwrap();
    let opath = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(&file_path)
        .unwrap();
    let (pipe_r, _pipe_w) = uring_tests::pipe();
    let fds: Vec<(&str, SharedFd)> = vec![
        ("rw", SharedFd::new(rw)),
        ("ro", SharedFd::new(ro)),
        ("opath", SharedFd::new(opath)),
        ("pipe", SharedFd::new(pipe_r)),
    ];
    let mut checked = 0;

    // Fallocate and fsync.
    let cases: [(u64, u64, i32); 8] = [
        (0, 0, 0),
        (u64::MAX, 1, 0),
        (0, u64::MAX, 0),
        (i64::MAX as u64, 1, 0),
        (i64::MAX as u64 - 10, 100, 0),
        (0, 4096, libc::FALLOC_FL_PUNCH_HOLE),
        (0, 4096, 0x4000_0000),
        (0, 4096, -1),
    ];
    for (name, fd) in &fds {
        for &(off, len, mode) in &cases {
            let got = both_ways(&reactor, || Fallocate::new(fd, off, len).mode(mode));
            // SAFETY: fallocate on a descriptor the test owns.
            let want =
                sys(unsafe { libc::fallocate(fd.as_raw_fd(), mode, off as i64, len as i64) });
            assert_eq!(got, [want; 2], "fallocate({name}, {off}, {len}, {mode:#x})");
            checked += 1;
        }
        for data in [false, true] {
            let got = both_ways(&reactor, || {
                if data {
                    Fsync::data(fd)
                } else {
                    Fsync::new(fd)
                }
            });
            // SAFETY: fsync and fdatasync of a descriptor the test owns.
            let want = sys(unsafe {
                if data {
                    libc::fdatasync(fd.as_raw_fd())
                } else {
                    libc::fsync(fd.as_raw_fd())
                }
            });
            assert_eq!(got, [want; 2], "fsync({name}, data {data})");
            checked += 1;
        }
    }
    // Fallocate on the read-write file at the offsets that succeed grew it:
    // the comparison ran each twice through the reactor, once by the call.

    // Statx.
    for (flags, mask) in [
        (0, libc::STATX__RESERVED as u32),
        (
            libc::AT_STATX_FORCE_SYNC | libc::AT_STATX_DONT_SYNC,
            libc::STATX_BASIC_STATS,
        ),
        (i32::MIN, libc::STATX_BASIC_STATS),
        (libc::AT_REMOVEDIR, libc::STATX_BASIC_STATS),
        (libc::AT_SYMLINK_NOFOLLOW, u32::MAX),
    ] {
        let path = cpath(&file_path);
        let got = both_ways(&reactor, || {
            Statx::new(path.clone()).flags(flags).mask(mask)
        });
        // SAFETY: all-zero bytes are a valid `statx`.
        let mut out: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a `statx` that outlive the call.
        let want =
            sys(unsafe { libc::statx(libc::AT_FDCWD, path.as_ptr(), flags, mask, &mut out) });
        assert_eq!(got, [want; 2], "statx(flags {flags:#x}, mask {mask:#x})");
        checked += 1;
    }

    // Opens.
    let long = CString::new(vec![b'a'; libc::PATH_MAX as usize]).unwrap();
    let too_deep = {
        let mut p = base.as_os_str().as_encoded_bytes().to_vec();
        while p.len() < libc::PATH_MAX as usize - 1 {
            p.extend_from_slice(b"/.");
        }
        p.truncate(libc::PATH_MAX as usize - 1);
        if p.last() == Some(&b'/') {
            p.pop();
        }
        CString::new(p).unwrap()
    };
    for (path, flags) in [
        (cpath(&base.join("neg")), -1),
        (cpath(base), libc::O_WRONLY),
        (cpath(&file_path), libc::O_RDONLY | libc::O_DIRECTORY),
        (
            cpath(&file_path),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
        ),
        (cpath(base), libc::O_TMPFILE | libc::O_RDONLY),
        (cpath(&base.join("missing")), libc::O_RDONLY),
        (long.clone(), libc::O_RDONLY),
        (too_deep.clone(), libc::O_RDONLY | libc::O_DIRECTORY),
        (CString::default(), libc::O_RDONLY),
    ] {
        let got = both_ways(&reactor, || OpenAt::new(path.clone(), flags, 0o600));
        // SAFETY: a NUL-terminated path that outlives the call; a
        // descriptor it opens is closed at once.
        let rc = unsafe {
            libc::openat(
                libc::AT_FDCWD,
                path.as_ptr(),
                flags | libc::O_CLOEXEC,
                0o600,
            )
        };
        if rc >= 0 {
            // SAFETY: the call just opened it, for the test alone.
            unsafe { libc::close(rc) };
        }
        let want = sys(rc);
        assert_eq!(got, [want; 2], "openat({path:?}, {flags:#x})");
        checked += 1;
    }

    // Directories, removals and renames.
    let file_dir = &fds[0].1;
    let name = |s: &str| CString::new(s).unwrap();
    let got = both_ways(&reactor, || {
        MkdirAt::new(name("sub"), 0o700).in_dir(file_dir)
    });
    // SAFETY: a NUL-terminated path that outlives the call.
    let want = sys(unsafe { libc::mkdirat(file_dir.as_raw_fd(), name("sub").as_ptr(), 0o700) });
    assert_eq!(got, [want; 2], "mkdirat relative to a file");
    assert_eq!(want, Some(libc::ENOTDIR));
    for (path, flags) in [
        (cpath(&base.join("full")), libc::AT_REMOVEDIR),
        (cpath(&base.join("full")), 0),
        (cpath(&base.join("missing")), 0),
        (long.clone(), 0),
        (CString::default(), libc::AT_REMOVEDIR),
    ] {
        let got = both_ways(&reactor, || {
            if flags == 0 {
                UnlinkAt::new(path.clone())
            } else {
                UnlinkAt::dir(path.clone())
            }
        });
        // SAFETY: a NUL-terminated path that outlives the call.
        let want = sys(unsafe { libc::unlinkat(libc::AT_FDCWD, path.as_ptr(), flags) });
        assert_eq!(got, [want; 2], "unlinkat({path:?}, {flags:#x})");
        checked += 1;
    }
    for (from, to, flags) in [
        (
            cpath(&file_path),
            cpath(&base.join("full/inside")),
            libc::RENAME_NOREPLACE,
        ),
        (
            cpath(&file_path),
            cpath(&base.join("x")),
            libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE,
        ),
        (cpath(&file_path), cpath(&base.join("x")), 0xffff_0000),
        (cpath(&base.join("full")), cpath(&base.join("full/sub")), 0),
        (cpath(&base.join("missing")), cpath(&base.join("x")), 0),
        (
            cpath(&file_path),
            cpath(&base.join("x")),
            libc::RENAME_EXCHANGE,
        ),
        (long.clone(), cpath(&base.join("x")), 0),
    ] {
        let got = both_ways(&reactor, || {
            RenameAt::new(from.clone(), to.clone()).flags(flags)
        });
        // SAFETY: NUL-terminated paths that outlive the call.
        let want = sys(unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                flags,
            )
        });
        assert_eq!(got, [want; 2], "renameat2({from:?}, {to:?}, {flags:#x})");
        checked += 1;
    }
    assert!(checked > 50);
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// What an open of a FIFO does that openat(2) does not
// ---------------------------------------------------------------------------

/// `OpenAt` is documented "like `openat(2)`", but its first try is
/// non-blocking (`O_NONBLOCK` added, then taken off the file it opened):
/// a FIFO with no writer opens for reading at once, as a blocking
/// descriptor, where `openat(2)` would wait for a writer; and with no reader
/// an open for writing fails at once with `ENXIO` (`fifo_open`'s answer to
/// a non-blocking writer, passed on as is), where `openat(2)` would wait for
/// a reader. With `O_CREAT` (forced to io-wq, a blocking open) it waits, as
/// `openat(2)` does.
#[test]
fn opens_of_a_fifo_do_not_wait_as_openat_does_unless_forced_to_a_worker() {
    let _watch = watchdog();
    let Some((_dir, fifo)) = fifo() else {
        return;
    };
    let reactor = Reactor::new().unwrap();
    let (r, fd) = reactor
        .run_until(reactor.op(OpenAt::new(cpath(&fifo), libc::O_WRONLY, 0)))
        .unwrap();
    assert_eq!(
        errno(&r),
        Some(libc::ENXIO),
        "an open for writing waited or opened"
    );
    assert!(fd.is_none());

    let (r, fd) = reactor
        .run_until(reactor.op(OpenAt::new(cpath(&fifo), libc::O_RDONLY, 0)))
        .unwrap();
    assert!(r.is_ok(), "{r:?}");
    let reader = fd.expect("a descriptor");
    // SAFETY: F_GETFL reads the flags of a descriptor the test owns.
    let fl = unsafe { libc::fcntl(reader.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(fl & libc::O_NONBLOCK, 0, "the reader was left non-blocking");
    // With a reader there, an open for writing succeeds at once too.
    let (r, writer) = reactor
        .run_until(reactor.op(OpenAt::new(cpath(&fifo), libc::O_WRONLY, 0)))
        .unwrap();
    assert!(r.is_ok(), "{r:?}");
    let mut writer = std::fs::File::from(writer.unwrap());
    writer.write_all(b"z").unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(Read::new(
            &SharedFd::new(reader),
            Vec::with_capacity(4),
            u64::MAX,
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(buf, b"z");
    drop(writer);

    // Forced to a worker, the open waits for a writer.
    let mut f = reactor.op(blocking_open(&fifo));
    assert!(poll_once(&mut f).is_pending());
    run_for(&reactor, 100);
    assert!(
        poll_once(&mut f).is_pending(),
        "the forced open did not wait"
    );
    let w = unblock(&fifo);
    let (r, fd) = reactor.run_until(f).unwrap();
    assert!(r.is_ok() && fd.is_some());
    drop(w.join().unwrap());
}

// ---------------------------------------------------------------------------
// Worker affinity: the thread's, not the ring's
// ---------------------------------------------------------------------------

/// The `Cpus_allowed_list` of each io-wq worker of the calling thread.
fn my_worker_cpus() -> Vec<String> {
    let me = std::fs::read_link("/proc/thread-self").unwrap();
    let tid = me.file_name().unwrap().to_string_lossy().into_owned();
    let name: String = format!("iou-wrk-{tid}").chars().take(15).collect();
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|task| {
            let read = |what| std::fs::read_to_string(task.path().join(what)).ok();
            if read("comm")?.trim_end() != name {
                return None;
            }
            let status = read("status")?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|cpus| cpus.trim().to_owned())
        })
        .collect()
}

/// A reactor over `ring` on the calling thread, with an open blocked in an
/// io-wq worker: the CPUs of the thread's workers then.
fn blocked_worker_cpus(ring: Ring, fifo: &Path) -> Vec<String> {
    let reactor = Reactor::from_ring(ring).unwrap();
    let _opened = block_the_worker(&reactor, fifo);
    let cpus = my_worker_cpus();
    drop(reactor);
    cpus
}

/// What `set_iowq_affinity(&[1])` does, called on thread C for ring R1:
/// the CPUs of the workers of another ring R2 that thread C drives, and
/// of R1's workers once R1 is driven by thread Y. `None` with a skip
/// message where the machine has one CPU or no io-wq affinity.
fn affinity_of_a_ring_moved_to_another_thread() -> Option<(Vec<String>, Vec<String>)> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        skip("one CPU: no affinity to tell apart");
        return None;
    }
    let (_dir, fifo) = fifo()?;
    let f = fifo.clone();
    let on_c = std::thread::spawn(move || {
        let mut r1 = Reactor::ring_builder().r_disabled().build(64).unwrap();
        if let Err(e) = r1.set_iowq_affinity(&[1]) {
            return Err(e.to_string());
        }
        let r2 = Reactor::ring_builder().build(64).unwrap();
        Ok((r1, blocked_worker_cpus(r2, &f)))
    })
    .join()
    .unwrap();
    let (r1, c_cpus) = match on_c {
        Ok(got) => got,
        Err(e) => {
            skip(format_args!("no io-wq affinity: {e}"));
            return None;
        }
    };
    let y_cpus = std::thread::spawn(move || blocked_worker_cpus(r1, &fifo))
        .join()
        .unwrap();
    Some((c_cpus, y_cpus))
}

/// io-wq affinity is registered through a ring but kept by the calling
/// thread's pool (`__io_register_iowq_aff` sets `current`'s, and the ring
/// stores nothing): another ring that thread drives gets workers on the
/// CPU chosen, and the ring it was set for, driven by another thread, gets
/// workers on every CPU.
#[test]
fn worker_affinity_is_the_calling_thread_s_not_the_ring_s() {
    let _watch = watchdog();
    let Some((c_cpus, y_cpus)) = affinity_of_a_ring_moved_to_another_thread() else {
        return;
    };
    assert_eq!(c_cpus, ["1"], "the other ring of the thread");
    assert_eq!(y_cpus.len(), 1);
    assert_ne!(y_cpus, ["1"], "the ring's affinity followed it");
}

// ---------------------------------------------------------------------------
// Forgotten futures and reactors with ops in io-wq's queue
// ---------------------------------------------------------------------------

/// A future of reactor A's `mkdirat` waits in io-wq's queue behind reactor
/// B's open, blocked in the thread's only worker, and is forgotten
/// (`mem::forget`: A's state leaks with it). A's drop still cancels the
/// forgotten op, at once (it is pending, and B's worker stays blocked, so
/// no race lets it run): once B's worker is free and B has run on, no
/// directory was made. B's open is untouched by A's shutdown.
#[test]
fn a_forgotten_future_s_fs_op_waiting_for_a_worker_is_cancelled_by_its_reactor_s_drop() {
    let _watch = watchdog();
    let Some((dir, fifo)) = fifo() else {
        return;
    };
    let Some(a) = one_worker_reactor() else {
        return;
    };
    let (r, ()) = a.run_until(a.op(Nop)).unwrap();
    assert_eq!(r.unwrap(), 0);
    let b = Reactor::new().unwrap();
    let opened = block_the_worker(&b, &fifo);
    let target = dir.path().join("forgotten");
    let mut f = a.op(MkdirAt::new(cpath(&target), 0o700));
    assert!(poll_once(&mut f).is_pending());
    run_for(&a, 100);
    assert_eq!(a.in_flight(), 1, "the mkdir ran beside the blocked worker");
    std::mem::forget(f);
    let started = Instant::now();
    drop(a);
    assert!(
        started.elapsed() < PROMPT,
        "A's drop waited {:?}",
        started.elapsed()
    );
    run_for(&b, 50);
    assert_eq!(b.in_flight(), 1, "A's drop ended B's open");
    let writer = unblock(&fifo);
    assert!(drive_until(&b, PROMPT, || b.in_flight() == 0));
    drop(writer.join().unwrap());
    run_for(&b, 100);
    assert_eq!(opened.borrow().len(), 1);
    assert_eq!(opened.borrow()[0].0, None);
    assert!(
        !target.exists(),
        "the forgotten future's mkdir ran after its reactor's drop"
    );
}

/// A reactor is forgotten on its thread with an open blocked in the only
/// worker and 50 `mkdirat`s and 20 reads of a procfs file (into 4 KiB
/// buffers) queued behind it; the thread then ends. With the ring's
/// descriptor still open, the exiting task cancels only requests that
/// track files (`io_uring_cancel_generic` without `cancel_all`), its worker
/// is interrupted, and io-wq's exit runs the bounded work left in its queue
/// (only unbounded work is failed, `IO_WQ_WORK_CANCEL` on `do_kill`): every
/// `mkdirat` runs after the thread is gone, and so do the reads, into the
/// leaked reactor's buffers, which are never freed. Buffers of the same
/// size allocated after the thread ended receive nothing; the FIFO has no
/// reader; the leaked callbacks never run.
#[test]
fn a_forgotten_reactor_s_thread_exit_runs_its_queued_fs_ops_into_memory_never_freed() {
    let _watch = watchdog();
    let Some((dir, fifo)) = fifo() else {
        return;
    };
    let base = dir.path().to_owned();
    let f = fifo.clone();
    let called = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = std::sync::Arc::clone(&called);
    let outcome = std::thread::spawn(move || {
        let reactor = one_worker_reactor()?;
        let _opened = block_the_worker(&reactor, &f);
        let proc = proc_file();
        for i in 0..50 {
            let c = std::sync::Arc::clone(&c);
            reactor
                .queue(
                    MkdirAt::new(cpath(&base.join(format!("d{i}"))), 0o700),
                    move |_, ()| {
                        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    },
                )
                .unwrap();
        }
        for _ in 0..20 {
            let c = std::sync::Arc::clone(&c);
            reactor
                .queue(Read::new(&proc, vec![CANARY; 4096], 0), move |_, _| {
                    c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
                .unwrap();
        }
        run_for(&reactor, 100);
        assert_eq!(
            reactor.in_flight(),
            71,
            "an op ran beside the blocked worker"
        );
        std::mem::forget(reactor);
        Some(())
    })
    .join()
    .unwrap();
    if outcome.is_none() {
        return;
    }
    let spray: Vec<Vec<u8>> = (0..64).map(|_| vec![SPRAY; 4096]).collect();
    let end = Instant::now() + PROMPT;
    let made = || std::fs::read_dir(dir.path()).unwrap().count() - 1;
    while made() < 50 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        made(),
        50,
        "the queued mkdirs did not all run after the thread ended"
    );
    assert!(!fifo_has_reader(&fifo));
    assert_eq!(called.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(
        spray.iter().all(|b| b.iter().all(|&x| x == SPRAY)),
        "a read of the leaked reactor wrote into memory allocated after"
    );
}
