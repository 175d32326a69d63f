//! How a scope ends, checked against the kernel's own cancellation code
//! (`io_uring/cancel.c`, `io-wq.c`, `poll.c`, `timeout.c`, `io_uring.c`
//! of Linux 6.18), from safe code.
//!
//! `Scope::drop` cancels what is left (one `IORING_ASYNC_CANCEL_ANY |
//! ALL` request in a fast scope, one request per tag otherwise, and the
//! same through `IORING_REGISTER_SYNC_CANCEL` in every later round) and
//! waits for every op's last completion. The kernel facts it leans on,
//! each attacked below with a canary the op borrowed and a source fed
//! after the scope:
//!
//! - `io-wq.c`: a cancel finds work still queued (hashed work behind a
//!   running item of the same inode too, `io_acct_cancel_pending_work`)
//!   and fails it with `-ECANCELED` without running it; work already
//!   running is only flagged (`IO_WQ_WORK_CANCEL`) and signalled
//!   (`__set_notify_signal`), which a buffered regular-file read or write
//!   ignores (it stops for fatal signals only): the cancel answers
//!   `-EALREADY` (or `-ENOENT`: `io_try_cancel` goes on to the poll,
//!   waitid, futex and timeout lists after `-EALREADY` and returns their
//!   `-ENOENT`), and the op completes in its own time. The scope must wait.
//! - `timeout.c`: a link timeout that fires on such an op
//!   (`io_req_task_link_timeout` -> `io_try_cancel`) cannot stop it
//!   either; the op goes on after the timeout's completion.
//! - `io_uring.c`: an op held behind `IO_DRAIN` sits in `defer_list`,
//!   which no cancel searches (only `io_cancel_defer_files`, at exit); a
//!   cancel SQE pushed after it is held too. It is issued only once what
//!   was before it completed, and only then can a (synchronous) cancel
//!   reach it.
//! - `io_uring.c`: an op hard-linked after a head is issued (from task
//!   work) only after the head completes, whether it completed or was
//!   cancelled (a time or count timeout found by `io_timeout_cancel`, a
//!   poll found by `io_poll_cancel`): the cancel that ended the head
//!   missed it, and a later round must find it.
//! - `cancel.c`: `__io_async_cancel` searches the ring's polls, timeouts,
//!   futexes and waitids whoever submitted them, and the io-wq of every
//!   task in `tctx_list`: ops submitted by a thread that has exited since
//!   (its io-wq torn down, its task work run by the fallback worker) are
//!   found and complete.
//! - Restrictions (`io_check_restriction`, `__io_uring_register`): a ring
//!   may refuse the scope's cancel SQEs (`-EACCES`, by opcode or by a
//!   required SQE flag) and its synchronous cancels; the scope then can
//!   only wait for its ops to end by themselves.
//! - The scope's cancel requests complete (and count) like any SQE: with
//!   more live ops than SQ entries the requests go in several submits,
//!   and their completions, added to the ops', overflow the CQ into the
//!   kernel's list, which the scope's waits flush.
//! - SQEs pushed and never submitted (a forgotten batch, a panic) are
//!   submitted and cancelled at the scope's end, also when an SQ thread
//!   sleeps.

use std::io::{Read as _, Write as _};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uring::ops::{Nop, PollAdd, Read, Timeout, Write};
use uring::{PollEvents, PushErrorKind, Restriction, Ring, SqeFlags, sys};
use uring_tests::{pattern, reap_one, require_sqpoll, skip, submit_and_reap, watchdog};

/// What the ops' buffers hold until the kernel writes into them.
const CANARY: u8 = 0x5c;

/// What the program writes over a buffer it got back from a scope.
const AFTER: u8 = 0xee;

/// Bytes of each big regular-file transfer: enough for a worker to be
/// busy with it for a while (page-cache copies, no device wait).
const BIG: usize = 16 << 20;

/// The rings the scope's end is attacked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A clean ring: its scopes are fast (one `CANCEL_ANY` request).
    Fast,
    /// A ring that had an op outside a scope: its scopes tag every op.
    Tagging,
    /// An SQ thread consumes the SQEs.
    Sqpoll,
    /// `single_issuer` + `defer_taskrun`: task work runs in waits only.
    DeferTaskrun,
}

const KINDS: [Kind; 4] = [Kind::Fast, Kind::Tagging, Kind::Sqpoll, Kind::DeferTaskrun];

/// A ring of `kind` with `entries` SQ entries (and a CQ of `cq`, or the
/// default for 0), or `None` (with the reason printed) where this kernel
/// cannot make one.
fn ring_of(kind: Kind, entries: u32, cq: u32) -> Option<Ring> {
    let mut builder = Ring::builder();
    if cq != 0 {
        builder = builder.cq_entries(cq);
    }
    let built = match kind {
        Kind::Fast | Kind::Tagging => builder.build(entries),
        Kind::Sqpoll => {
            if !require_sqpoll() {
                return None;
            }
            builder.sqpoll(Duration::from_millis(5)).build(entries)
        }
        Kind::DeferTaskrun => builder.single_issuer().defer_taskrun().build(entries),
    };
    let mut ring = match built {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no {kind:?} ring here: {e}"));
            return None;
        }
    };
    if kind == Kind::Tagging {
        ring.push(Nop::new().user_data(0x7a6)).unwrap();
        assert_eq!(reap_one(&mut ring).user_data(), 0x7a6);
    }
    let fast = ring.scope(|s| !s.tags_every_op());
    assert_eq!(fast, kind != Kind::Tagging, "{kind:?}");
    Some(ring)
}

/// Checks that nothing of the last scope is left in `ring` and that it
/// still runs ops: a NOP comes back alone, with its own `user_data`.
fn assert_usable(ring: &mut Ring, what: &str) {
    assert_eq!(ring.completions().count(), 0, "{what}: leftovers");
    ring.push(Nop::new().user_data(0x600d)).unwrap();
    let cqes = submit_and_reap(ring, 1);
    assert_eq!(
        (cqes[0].user_data(), cqes[0].res()),
        (0x600d, 0),
        "{what}: {cqes:?}"
    );
    assert_eq!(ring.completions().count(), 0, "{what}: a stray completion");
}

/// Writes to each stream after a scope returned, waits a little, and
/// checks that no buffer changed from [`CANARY`] and that each peer still
/// holds exactly what was written: no read of the scope is left in flight
/// to take it.
fn assert_nothing_reads_after(pairs: &mut [(UnixStream, UnixStream)], bufs: &[&[u8]], what: &str) {
    const LATE: &[u8] = b"late bytes, after the scope";
    for (tx, _) in pairs.iter_mut() {
        tx.write_all(LATE).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    for (i, buf) in bufs.iter().enumerate() {
        assert!(
            uring_tests::all_bytes(buf, CANARY),
            "{what}: buffer {i} was written after its scope: {buf:?}"
        );
    }
    for (i, (_, rx)) in pairs.iter_mut().enumerate() {
        rx.set_nonblocking(true).unwrap();
        let mut got = vec![0u8; LATE.len() + 8];
        let n = rx.read(&mut got).unwrap_or(0);
        assert_eq!(&got[..n], LATE, "{what}: stream {i} lost its late bytes");
    }
}

fn stream_pairs(n: usize) -> Vec<(UnixStream, UnixStream)> {
    (0..n).map(|_| UnixStream::pair().unwrap()).collect()
}

/// A file named `name` in `dir` holding `bytes`, open for reading and
/// writing.
fn file_with(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::fs::File {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

/// Checks that the region of `file` at `at` holds `want` whole, or nothing
/// (a hole, or past the end): a write the scope let the kernel finish
/// from its source, or one cancelled before it ran. Bytes of [`AFTER`]
/// there would be the program's writes of the source after the scope,
/// which a write still running would have copied.
fn assert_region(contents: &[u8], at: usize, want: &[u8], what: &str) {
    let end = contents.len().min(at + want.len());
    if end <= at {
        return;
    }
    let got = &contents[at..end];
    let whole = got.len() == want.len() && got == want;
    let nothing = uring_tests::all_bytes(got, 0);
    assert!(
        whole || nothing,
        "{what}: region at {at} is neither the source nor empty ({} bytes, first {AFTER:#x} at {:?})",
        got.len(),
        got.iter().position(|&b| b == AFTER)
    );
}

/// A big write flagged `IOSQE_ASYNC` runs in an io-wq worker, which the
/// scope's cancel only flags and signals: a buffered write stops for
/// fatal signals only, so the cancel answers `-EALREADY` and the write
/// goes on. A second write to the same file is hashed behind it in io-wq
/// (same inode) and is cancelled while queued, or runs in its turn. The
/// scope ends (by returning) right after submitting both: it must wait for
/// the running write, on every ring kind. Afterwards the program fills both
/// sources with another byte; the file must hold, in each region, the
/// source as it was or nothing: never a byte written after the scope.
#[test]
fn worker_writes_a_cancel_cannot_stop_are_waited_for() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 0) else {
            continue;
        };
        let file = file_with(&dir, &format!("{kind:?}"), b"");
        let mut first = pattern(BIG, 1);
        let mut second = pattern(BIG, 2);
        let in_flight = ring.scope(|s| {
            s.push(
                Write::new(&file, &first[..])
                    .offset(0)
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.push(
                Write::new(&file, &second[..])
                    .offset(BIG as u64)
                    .flags(SqeFlags::ASYNC)
                    .user_data(2),
            )
            .unwrap();
            s.submit().unwrap();
            // Into the worker before the scope ends.
            std::thread::sleep(Duration::from_millis(10));
            s.in_flight()
        });
        assert!(in_flight <= 2, "{kind:?}: {in_flight}");
        first.fill(AFTER);
        second.fill(AFTER);
        std::thread::sleep(Duration::from_millis(20));
        let contents = std::fs::read(dir.path().join(format!("{kind:?}"))).unwrap();
        assert!(contents.len() <= 2 * BIG, "{kind:?}: {}", contents.len());
        let what = format!("{kind:?}");
        assert_region(&contents, 0, &pattern(BIG, 1), &what);
        assert_region(&contents, BIG, &pattern(BIG, 2), &what);
        assert_usable(&mut ring, &what);
    }
}

/// A big read of a regular file flagged `IOSQE_ASYNC`, into a buffer the
/// scope borrows, cut by the scope's end: once by a panic right after the
/// submit (caught outside the scope), once by a batch that pushed it and
/// was forgotten (`mem::forget`), never submitted by the closure. A worker
/// that runs it is not stopped by the cancel's signal; the scope waits.
/// Afterwards the buffer holds, at each byte, what it held before or the
/// file's byte, and once the program overwrites it, nothing writes there
/// again.
#[test]
fn worker_reads_a_cancel_cannot_stop_are_waited_for_through_panics_and_forgotten_batches() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let source = pattern(BIG, 3);
    let file = file_with(&dir, "source", &source);
    for kind in KINDS {
        for forget in [false, true] {
            let Some(mut ring) = ring_of(kind, 8, 0) else {
                continue;
            };
            let what = format!("{kind:?}, forgotten batch {forget}");
            let mut buf = vec![0u8; BIG];
            let caught = catch_unwind(AssertUnwindSafe(|| {
                ring.scope(|s| {
                    let read = Read::new(&file, &mut buf[..])
                        .flags(SqeFlags::ASYNC)
                        .user_data(1);
                    if forget {
                        let mut batch = s.submission();
                        batch.push(read).unwrap();
                        std::mem::forget(batch);
                        assert_eq!(s.in_flight(), 1);
                        return;
                    }
                    s.push(read).unwrap();
                    s.submit().unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                    panic!("leaving the scope with a worker read in flight");
                })
            }));
            assert_eq!(caught.is_err(), !forget, "{what}");
            assert!(
                uring_tests::zero_or_source(&buf, &source),
                "{what}: bytes from nowhere"
            );
            buf.fill(AFTER);
            std::thread::sleep(Duration::from_millis(30));
            assert!(
                uring_tests::all_bytes(&buf, AFTER),
                "{what}: the read wrote after its scope"
            );
            assert_usable(&mut ring, &what);
        }
    }
}

/// A link timeout that fires while its op runs in a worker cannot stop
/// it: `io_req_task_link_timeout` asks `io_try_cancel`, which only flags
/// and signals the running write, and the timeout completes (`-EALREADY`
/// or `-ENOENT`) while the write goes on. The scope, ended here by a panic
/// as soon as the timeout had time to fire, must still wait for the
/// write's own completion: afterwards the file holds the source as it was
/// (or nothing, had the write been cut before it ran), never the bytes the
/// program writes into the source after the scope.
#[test]
fn a_link_timeout_that_cannot_stop_a_worker_write_leaves_it_to_the_scope() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 0) else {
            continue;
        };
        let what = format!("{kind:?}");
        let file = file_with(&dir, &what, b"");
        let mut src = pattern(BIG, 4);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            ring.scope(|s| {
                s.push(
                    Write::new(&file, &src[..])
                        .flags(SqeFlags::ASYNC)
                        .user_data(1)
                        .timeout_with(Duration::from_micros(200), 2),
                )
                .unwrap();
                s.submit().unwrap();
                std::thread::sleep(Duration::from_millis(3));
                panic!("leaving while the write runs past its link timeout");
            })
        }));
        assert!(caught.is_err());
        src.fill(AFTER);
        std::thread::sleep(Duration::from_millis(20));
        let contents = std::fs::read(dir.path().join(&what)).unwrap();
        assert!(contents.len() <= BIG, "{what}: {}", contents.len());
        assert_region(&contents, 0, &pattern(BIG, 4), &what);
        assert_usable(&mut ring, &what);
    }
}

/// A read flagged `IO_DRAIN` behind a big worker write: the kernel parks
/// the read (and every SQE after it, the scope's own cancel requests
/// included) in `defer_list`, which no cancel searches, until the write
/// has completed, and the write cannot be stopped. The scope ends at
/// once: its first rounds reach nothing but the running write; the read
/// is issued only when the write is done, and a later round's cancel
/// (synchronous: the cancel SQEs still wait behind the read) must find
/// it. Afterwards the read's stream keeps the bytes written to it, the
/// read's buffer is untouched, and the file holds the write's source.
#[test]
fn a_drained_read_behind_a_write_no_cancel_stops_is_cancelled_once_issued() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 0) else {
            continue;
        };
        let what = format!("{kind:?}");
        let file = file_with(&dir, &what, b"");
        let mut src = pattern(BIG, 5);
        let mut pairs = stream_pairs(1);
        let mut buf = [CANARY; 16];
        ring.scope(|s| {
            s.push(
                Write::new(&file, &src[..])
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.push(
                Read::new(&pairs[0].1, &mut buf[..])
                    .flags(SqeFlags::IO_DRAIN)
                    .user_data(2),
            )
            .unwrap();
            s.submit().unwrap();
            assert_eq!(s.in_flight(), 2, "{what}");
        });
        src.fill(AFTER);
        assert_nothing_reads_after(&mut pairs, &[&buf[..]], &what);
        let contents = std::fs::read(dir.path().join(&what)).unwrap();
        assert_region(&contents, 0, &pattern(BIG, 5), &what);
        assert_usable(&mut ring, &what);
    }
}

/// The heads that end a chain's first op differently.
#[derive(Clone, Copy, Debug)]
enum Head {
    /// A timeout by time: found by `io_timeout_cancel`.
    Time,
    /// A timeout by completion count (that never comes): also in the
    /// timeout list.
    Count,
    /// A one-shot poll on a stream that never gets data: found by
    /// `io_poll_cancel`.
    Poll,
}

/// Reads hard-linked after a head that waits (a timeout by time, a
/// timeout by count, a poll), ended by an early `?` return: the cancel
/// that ends the head cannot reach the read, which the kernel issues from
/// the head's completion only (hard links go on after a failure), after
/// that cancel; the scope's later rounds must find it, then the next one.
/// Afterwards each read's stream keeps its bytes and no buffer changes.
#[test]
fn reads_hard_linked_after_timeouts_and_polls_are_cancelled_once_issued() {
    let _watch = watchdog();
    for kind in KINDS {
        for head in [Head::Time, Head::Count, Head::Poll] {
            let Some(mut ring) = ring_of(kind, 8, 0) else {
                continue;
            };
            let what = format!("{kind:?}, {head:?}");
            let mut pairs = stream_pairs(3);
            let mut a = [CANARY; 8];
            let mut b = [CANARY; 8];
            let left: Result<(), Box<dyn std::error::Error>> = ring.scope(|s| {
                let reads = Read::new(&pairs[0].1, &mut a[..])
                    .user_data(2)
                    .hard_link(Read::new(&pairs[1].1, &mut b[..]).user_data(3));
                let pushed = match head {
                    Head::Time => s
                        .push(
                            Timeout::new(Duration::from_secs(60))
                                .user_data(1)
                                .hard_link(reads),
                        )
                        .map_err(|e| e.kind()),
                    Head::Count => s
                        .push(
                            Timeout::new(Duration::from_secs(60))
                                .count(1 << 20)
                                .user_data(1)
                                .hard_link(reads),
                        )
                        .map_err(|e| e.kind()),
                    Head::Poll => s
                        .push(
                            PollAdd::new(&pairs[2].1, PollEvents::IN)
                                .user_data(1)
                                .hard_link(reads),
                        )
                        .map_err(|e| e.kind()),
                };
                pushed.map_err(|kind| format!("push: {kind:?}"))?;
                s.submit()?;
                assert_eq!(s.in_flight(), 3);
                Err("leaving early with the chain waiting".into())
            });
            assert!(left.is_err(), "{what}");
            assert_nothing_reads_after(&mut pairs, &[&a[..], &b[..]], &what);
            assert_usable(&mut ring, &what);
        }
    }
}

/// The two ways restrictions take the scope's cancels away.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// `ASYNC_CANCEL` is not among the allowed ops, and no register op is
    /// allowed (no synchronous cancel).
    Opcode,
    /// Cancels are allowed, but every SQE must carry `IOSQE_FIXED_FILE`,
    /// which the scope's own cancel SQE does not; no register op is
    /// allowed.
    RequiredFlag,
}

/// A ring whose restrictions refuse the scope's cancel requests (each
/// completes with `-EACCES`) and its synchronous cancels (`EACCES` from
/// `io_uring_register`): a scope that ends with a read of a pipe waiting
/// can only wait for the read to end by itself. A thread writes to the pipe
/// a while later, setting a flag before it writes; the scope (ended by a
/// return or a panic) must not return before that flag is set, and the
/// read's buffer holds the written bytes. The ring then still runs ops,
/// and the data written after the scope stays in the pipe.
#[test]
fn a_ring_that_refuses_every_cancel_keeps_its_scope_until_the_read_ends() {
    let _watch = watchdog();
    for refusal in [Refusal::Opcode, Refusal::RequiredFlag] {
        for tag_all in [false, true] {
            for panics in [false, true] {
                let what = format!("{refusal:?}, tag all {tag_all}, panics {panics}");
                let mut ring = Ring::builder().r_disabled().build(8).unwrap();
                let (rx, tx) = uring_tests::pipe();
                let table = ring.register_files(&[rx.as_fd()]).unwrap();
                let rules = match refusal {
                    Refusal::Opcode => vec![
                        Restriction::op::<Read<'static>>(),
                        Restriction::op::<Nop>(),
                        Restriction::sqe_flags_allowed(sys::IOSQE_FIXED_FILE),
                    ],
                    Refusal::RequiredFlag => vec![
                        Restriction::op::<Read<'static>>(),
                        Restriction::op::<Nop>(),
                        Restriction::opcode(sys::IORING_OP_ASYNC_CANCEL),
                        Restriction::sqe_flags_required(sys::IOSQE_FIXED_FILE),
                    ],
                };
                ring.register_restrictions(&rules).unwrap();
                ring.enable().unwrap();
                if tag_all {
                    // Refused or not, it completes, outside any scope.
                    ring.push(Nop::new().user_data(0x7a6)).unwrap();
                    let cqe = reap_one(&mut ring);
                    assert_eq!(cqe.user_data(), 0x7a6, "{what}");
                }
                assert_eq!(ring.scope(|s| s.tags_every_op()), tag_all, "{what}");
                let written = Arc::new(AtomicBool::new(false));
                let writer = {
                    let written = Arc::clone(&written);
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(80));
                        written.store(true, Ordering::SeqCst);
                        let mut tx = std::fs::File::from(tx);
                        tx.write_all(b"late").unwrap();
                        tx
                    })
                };
                let mut buf = [CANARY; 4];
                let caught = catch_unwind(AssertUnwindSafe(|| {
                    ring.scope(|s| {
                        s.push(Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(1))
                            .unwrap();
                        s.submit().unwrap();
                        assert_eq!(s.in_flight(), 1);
                        if panics {
                            panic!("leaving with a read no cancel can reach");
                        }
                    })
                }));
                assert_eq!(caught.is_err(), panics, "{what}");
                assert!(
                    written.load(Ordering::SeqCst),
                    "{what}: the scope returned before the read could end"
                );
                assert_eq!(&buf, b"late", "{what}");
                let mut tx = writer.join().unwrap();
                // The ring runs ops; the read is gone (these bytes stay).
                tx.write_all(b"more").unwrap();
                let mut again = [CANARY; 4];
                let cqe = uring_tests::complete(
                    &mut ring,
                    Read::new(table.get(0).unwrap(), &mut again[..]).user_data(9),
                );
                assert_eq!((cqe.user_data(), cqe.res()), (9, 4), "{what}");
                assert_eq!(&again, b"more", "{what}");
                assert_eq!(ring.completions().count(), 0, "{what}");
            }
        }
    }
}

/// Ops submitted from another thread (the scope's `&mut` moved there),
/// which then exits: its io-wq is torn down, its task work goes to the
/// fallback worker, and its polls and timeouts stay in the ring. The
/// scope's end, on the first thread, must still reach them: a plain read
/// (a poll), a read flagged `IOSQE_ASYNC` (a poll armed from io-wq, or
/// work the exit cancelled), and a read hard-linked after a timeout (issued,
/// or failed, from the fallback worker once the timeout is cancelled).
/// Afterwards every stream keeps what is written to it and no buffer
/// changes.
#[test]
fn ops_submitted_by_a_thread_that_exited_are_cancelled_at_the_scope_s_end() {
    let _watch = watchdog();
    for kind in [Kind::Fast, Kind::Tagging, Kind::Sqpoll] {
        let Some(mut ring) = ring_of(kind, 8, 0) else {
            continue;
        };
        let what = format!("{kind:?}");
        let mut pairs = stream_pairs(3);
        let mut a = [CANARY; 8];
        let mut b = [CANARY; 8];
        let mut c = [CANARY; 8];
        ring.scope(|s| {
            std::thread::scope(|t| {
                t.spawn(|| {
                    s.push(Read::new(&pairs[0].1, &mut a[..]).user_data(1))
                        .unwrap();
                    s.push(
                        Read::new(&pairs[1].1, &mut b[..])
                            .flags(SqeFlags::ASYNC)
                            .user_data(2),
                    )
                    .unwrap();
                    s.push(
                        Timeout::new(Duration::from_secs(60))
                            .user_data(3)
                            .hard_link(Read::new(&pairs[2].1, &mut c[..]).user_data(4)),
                    )
                    .unwrap();
                    s.submit().unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                });
            });
            // The thread has returned; let it finish exiting.
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(s.in_flight(), 4, "{what}");
        });
        assert_nothing_reads_after(&mut pairs, &[&a[..], &b[..], &c[..]], &what);
        assert_usable(&mut ring, &what);
    }
}

/// Pushes `read` into `s`, submitting to make room when the SQ is full.
fn push_making_room<'s, T>(s: &mut uring::Scope<'s, '_>, mut read: T)
where
    T: uring::Submission + uring::Scoped + 's,
{
    for _ in 0..100 {
        match s.push(read) {
            Ok(()) => return,
            Err(e) if e.kind() == PushErrorKind::QueueFull => {
                read = e.into_inner();
                s.submit().unwrap();
            }
            Err(e) => panic!("push: {:?}", e.kind()),
        }
    }
    panic!("no room in the SQ");
}

/// A scope with as many reads in flight as its CQ has entries, on a ring
/// whose SQ has two: a scope that tags every op needs one cancel request
/// per read, which go in several submits (the SQ fills up), and the
/// requests' completions with the reads' overflow the CQ into the kernel's
/// list. Ended by an early `?` return, the scope must take in every one:
/// afterwards no buffer changes when the streams get data, each stream
/// keeps it, and the ring is clean and runs ops. A fast scope (one
/// request) on the same ring likewise.
#[test]
fn cancels_of_more_live_ops_than_sq_entries_overflow_the_cq_and_are_all_taken_in() {
    let _watch = watchdog();
    const OPS: usize = 16;
    for kind in [Kind::Tagging, Kind::Fast, Kind::DeferTaskrun] {
        let Some(mut ring) = ring_of(kind, 2, OPS as u32) else {
            continue;
        };
        assert_eq!(ring.cq_entries() as usize, OPS);
        let what = format!("{kind:?}");
        let mut pairs = stream_pairs(OPS);
        let mut bufs = [[CANARY; 8]; OPS];
        let left: Result<(), Box<dyn std::error::Error>> = ring.scope(|s| {
            for ((_, rx), buf) in pairs.iter().zip(bufs.iter_mut()) {
                push_making_room(s, Read::new(rx, &mut buf[..]).user_data(7));
            }
            s.submit()?;
            assert_eq!(s.in_flight() as usize, OPS);
            Err("leaving with the scope full".into())
        });
        assert!(left.is_err());
        let views: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        assert_nothing_reads_after(&mut pairs, &views, &what);
        assert_usable(&mut ring, &what);
    }
}

/// SQEs that only a forgotten batch pushed (a read, and a read
/// hard-linked after a poll), never submitted by the closure, which then
/// panics; on an SQPOLL ring whose thread has gone to sleep first. The
/// scope's end submits them (waking the SQ thread) and cancels them, link
/// by link: afterwards no buffer changes and every stream keeps its
/// bytes.
#[test]
fn a_forgotten_batch_and_a_panic_leave_nothing_in_the_sq_on_every_ring() {
    let _watch = watchdog();
    for kind in KINDS {
        let Some(mut ring) = ring_of(kind, 8, 0) else {
            continue;
        };
        let what = format!("{kind:?}");
        let mut pairs = stream_pairs(3);
        let mut a = [CANARY; 8];
        let mut b = [CANARY; 8];
        if kind == Kind::Sqpoll {
            // Past the thread's idle time: it sleeps, and needs a wake-up.
            std::thread::sleep(Duration::from_millis(30));
        }
        let caught = catch_unwind(AssertUnwindSafe(|| {
            ring.scope(|s| {
                let mut batch = s.submission();
                batch
                    .push(Read::new(&pairs[0].1, &mut a[..]).user_data(1))
                    .unwrap();
                batch
                    .push(
                        PollAdd::new(&pairs[2].1, PollEvents::IN)
                            .user_data(2)
                            .hard_link(Read::new(&pairs[1].1, &mut b[..]).user_data(3)),
                    )
                    .unwrap();
                std::mem::forget(batch);
                assert_eq!(s.in_flight(), 3);
                panic!("leaving with the SQEs unsubmitted");
            })
        }));
        assert!(caught.is_err(), "{what}");
        assert_nothing_reads_after(&mut pairs, &[&a[..], &b[..]], &what);
        assert_usable(&mut ring, &what);
    }
}
