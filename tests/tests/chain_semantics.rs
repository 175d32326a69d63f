//! What the docs of chains promise, against what the kernel does with each
//! shape the safe API builds: `a.link(b)`, `a.hard_link(b)`,
//! `a.timeout(d)` followed by either, chains of three with a link timeout in
//! the middle, `Either` sides, `Linked::new` and `Linked::hard` of ops and
//! of bounded ops, and `then_write` pairs followed by more.
//!
//! In each shape one read is the op whose outcome varies: it succeeds (8
//! bytes ready in a pipe, 8 asked), fails (a read of the pipe's write end:
//! `-EBADF`), comes back short (4 bytes ready, 8 asked: the kernel fails a
//! soft link on a short read, as on an error) or, where a link timeout
//! bounds it, is cut by it (an empty pipe, 5 ms: the read gets
//! `-ECANCELED`, the timeout `-ETIME`). The other ops write one marker byte
//! each to a log pipe, so the log tells which of them ran, and in what
//! order. Every chain is pushed through `Ring::push_unchecked` /
//! `push_linked_unchecked` (whose SQEs are read back with `pending_sqes`
//! before the submit) and through a scope, on a plain ring, a
//! `defer_taskrun` single-issuer ring and an SQPOLL ring.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use uring::ops::{LinkTimeout, Read, ThenWrite, Write};
use uring::{Either, Fd, Link, Linked, Ring, Scope, Scoped, Submission, sys};
use uring_tests::{PATIENCE, pipe};

const LINK: u8 = sys::IOSQE_IO_LINK;
const HARD: u8 = sys::IOSQE_IO_HARDLINK;
const CANCELED: i32 = -libc::ECANCELED;
const ETIME: i32 = -libc::ETIME;

/// What the bytes of the source pipe hold before a successful read.
const SOURCE: &[u8; 8] = b"01234567";

/// How the varying read ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Reads all 8 bytes it asks for.
    Whole,
    /// Fails with `-EBADF` (a read of a pipe's write end).
    Fails,
    /// Reads 4 of the 8 bytes it asks for.
    Short,
    /// Waits on an empty pipe until its link timeout cuts it.
    Cut,
}

use Outcome::{Cut, Fails, Short, Whole};

/// The outcomes of a read no link timeout bounds (a cut one would wait
/// forever).
const UNBOUNDED: [Outcome; 3] = [Whole, Fails, Short];
/// The outcomes of a read bounded by a link timeout.
const BOUNDED: [Outcome; 4] = [Whole, Fails, Short, Cut];

impl Outcome {
    /// The read's result.
    fn res(self) -> i32 {
        match self {
            Whole => 8,
            Fails => -libc::EBADF,
            Short => 4,
            Cut => CANCELED,
        }
    }

    /// The result of the link timeout that bounds the read: `-ETIME` when
    /// it fired, `-ECANCELED` when the read ended first.
    fn timeout_res(self) -> i32 {
        if self == Cut { ETIME } else { CANCELED }
    }

    /// The bound given to the read: 5 ms for a read that must be cut, 10 s
    /// for one that must end first.
    fn bound(self) -> Duration {
        if self == Cut {
            Duration::from_millis(5)
        } else {
            Duration::from_secs(10)
        }
    }

    /// Whether a soft link after the read lets the next op run: only a
    /// whole read does (an error, a short read and a cut all fail it).
    fn passes_soft(self) -> bool {
        self == Whole
    }

    /// The bytes ready in the source pipe before the read.
    fn bytes(self) -> &'static [u8] {
        match self {
            Whole => SOURCE,
            Short => &SOURCE[..4],
            Fails | Cut => b"",
        }
    }
}

/// The pipes of one run: the source the varying read reads, the log the
/// other ops write their markers to.
struct Fixture {
    outcome: Outcome,
    source: OwnedFd,
    /// The write end of the source, kept open so that an empty source
    /// blocks a read instead of ending it; what a failing read reads.
    source_tx: OwnedFd,
    log: OwnedFd,
    log_tx: OwnedFd,
}

impl Fixture {
    fn new(outcome: Outcome) -> Fixture {
        let (source, source_tx) = pipe();
        let (log, log_tx) = pipe();
        write_all(source_tx.as_fd(), outcome.bytes());
        set_nonblocking(log.as_fd());
        Fixture {
            outcome,
            source,
            source_tx,
            log,
            log_tx,
        }
    }

    /// The varying read into `buf` (8 bytes), with `user_data` 1.
    fn read<'a>(&'a self, buf: &'a mut [u8; 8]) -> Read<'a, Fd<'a>> {
        let fd = if self.outcome == Fails {
            self.source_tx.as_fd()
        } else {
            self.source.as_fd()
        };
        Read::new(fd, &mut buf[..]).user_data(1)
    }

    /// A write of `marker` to the log, with `user_data`.
    fn mark(&self, marker: &'static [u8; 1], user_data: u64) -> Write<'_, Fd<'_>> {
        Write::new(&self.log_tx, &marker[..]).user_data(user_data)
    }

    /// Everything written to the log so far.
    fn logged(&self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut chunk = [0u8; 256];
        loop {
            // SAFETY: `chunk` is a writable buffer of the length given.
            let n =
                unsafe { libc::read(self.log.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
            if n <= 0 {
                return all;
            }
            all.extend_from_slice(&chunk[..n as usize]);
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // SAFETY: `bytes` is readable for its length.
    let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize, "write to a pipe");
}

fn set_nonblocking(fd: BorrowedFd<'_>) {
    // SAFETY: F_GETFL / F_SETFL on a descriptor this process owns.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            0
        );
    }
}

/// The kind of ring a chain runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    DeferTaskrun,
    Sqpoll,
}

/// Where a chain is pushed: a ring of `kind`, directly or in a scope.
#[derive(Clone, Copy, Debug)]
struct Mode {
    kind: Kind,
    scope: bool,
}

/// Every mode a shape runs in.
const MODES: [Mode; 6] = [
    Mode {
        kind: Kind::Plain,
        scope: false,
    },
    Mode {
        kind: Kind::Plain,
        scope: true,
    },
    Mode {
        kind: Kind::DeferTaskrun,
        scope: false,
    },
    Mode {
        kind: Kind::DeferTaskrun,
        scope: true,
    },
    Mode {
        kind: Kind::Sqpoll,
        scope: false,
    },
    Mode {
        kind: Kind::Sqpoll,
        scope: true,
    },
];

/// A ring of `kind`, or `None` (with a skip message) where this process
/// may not make one.
fn ring(kind: Kind) -> Option<Ring> {
    let built = match kind {
        Kind::Plain => Ring::new(16),
        Kind::DeferTaskrun => {
            if !uring_tests::require_kernel(6, 1, "defer_taskrun") {
                return None;
            }
            Ring::builder().single_issuer().defer_taskrun().build(16)
        }
        Kind::Sqpoll => {
            if !uring_tests::require_sqpoll() {
                return None;
            }
            Ring::builder().sqpoll(Duration::from_millis(50)).build(16)
        }
    };
    match built {
        Ok(ring) => Some(ring),
        Err(e) if kind == Kind::Sqpoll => {
            uring_tests::skip(format_args!("no SQPOLL ring: {e}"));
            None
        }
        Err(e) => panic!("{kind:?} ring: {e}"),
    }
}

/// A chain pushed whole: one `Submission`, or a `Linked` chain.
trait Push<'a> {
    /// Pushes it outside a scope.
    ///
    /// # Safety
    ///
    /// What it borrows outlives its last completion.
    unsafe fn push_ring(self, ring: &mut Ring);
    /// Pushes it in a scope.
    fn push_scope<'s, 'e>(self, scope: &mut Scope<'s, 'e>)
    where
        'a: 's;
}

/// A chain of a length known at compile time.
struct One<C>(C);

impl<'a, C: Submission + Scoped + 'a> Push<'a> for One<C> {
    unsafe fn push_ring(self, ring: &mut Ring) {
        // SAFETY: forwarded from the caller.
        let pushed = unsafe { ring.push_unchecked(self.0) };
        assert!(pushed.is_ok(), "the chain did not fit");
    }

    fn push_scope<'s, 'e>(self, scope: &mut Scope<'s, 'e>)
    where
        'a: 's,
    {
        assert!(scope.push(self.0).is_ok(), "the chain did not fit");
    }
}

/// A chain of run-time length.
struct Many<T>(Linked<T>);

impl<'a, T: Submission + Scoped + 'a> Push<'a> for Many<T> {
    unsafe fn push_ring(self, ring: &mut Ring) {
        // SAFETY: forwarded from the caller.
        let pushed = unsafe { ring.push_linked_unchecked(self.0) };
        assert!(pushed.is_ok(), "the chain did not fit");
    }

    fn push_scope<'s, 'e>(self, scope: &mut Scope<'s, 'e>)
    where
        'a: 's,
    {
        assert!(scope.push_linked(self.0).is_ok(), "the chain did not fit");
    }
}

/// What a chain did, with its SQEs' link flags where they could be read
/// before the kernel took them (not on an SQPOLL ring).
struct Ran {
    /// `(user_data, res)` of every completion, sorted.
    done: Vec<(u64, i32)>,
    links: Option<Vec<u8>>,
}

/// Pushes `chain` as `mode` says, submits it and reaps `n` completions.
/// `None` when the ring cannot be made here.
fn run<'a, P: Push<'a>>(mode: Mode, chain: P, n: usize) -> Option<Ran> {
    let mut ring = ring(mode.kind)?;
    let mut links = None;
    let mut done: Vec<(u64, i32)> = if mode.scope {
        ring.scope(|s| {
            chain.push_scope(s);
            s.submit().expect("submit");
            let mut done = Vec::new();
            while done.len() < n {
                s.wait_timeout(1, PATIENCE)
                    .unwrap_or_else(|e| panic!("{e} after {done:?}"));
                done.extend(s.completions().map(|c| {
                    let c = c.cqe();
                    (c.user_data(), c.res())
                }));
            }
            done
        })
    } else {
        // SAFETY: every completion of the chain is reaped below, before
        // what it borrows (the caller's fixture and buffers) is dropped.
        unsafe { chain.push_ring(&mut ring) };
        if mode.kind != Kind::Sqpoll {
            links = Some(
                ring.pending_sqes()
                    .map(|sqe| sqe.flags & (LINK | HARD))
                    .collect(),
            );
        }
        let mut done = uring_tests::pairs(&uring_tests::wait_cqes(&mut ring, n));
        // Anything else already posted would be a completion too many.
        let _ = ring.submit();
        done.extend(ring.completions().map(|c| (c.user_data(), c.res())));
        done
    };
    done.sort_unstable();
    Some(Ran { done, links })
}

/// Runs the chain `build` makes for every outcome in `outcomes` and every
/// mode, and checks what `expect` says of it: the completions (sorted by
/// `user_data`), the bytes the log got, in order, and the link flags of
/// the SQEs, in queue order.
fn check<F, E>(shape: &str, outcomes: &[Outcome], n: usize, build: F, expect: E)
where
    F: for<'a> Fn(&'a Fixture, &'a mut [u8; 8]) -> Box<dyn PushBox<'a> + 'a>,
    E: Fn(Outcome) -> (Vec<(u64, i32)>, Vec<u8>, Vec<u8>),
{
    let _watch = uring_tests::watchdog();
    for &outcome in outcomes {
        for mode in MODES {
            let fixture = Fixture::new(outcome);
            let mut buf = [0u8; 8];
            let chain = build(&fixture, &mut buf);
            let Some(ran) = chain.run_boxed(mode, n) else {
                continue;
            };
            let (mut want, log, links) = expect(outcome);
            want.sort_unstable();
            let what = format!("{shape}, {outcome:?} read, {mode:?}");
            assert_eq!(ran.done, want, "{what}: completions");
            assert_eq!(
                String::from_utf8_lossy(&fixture.logged()),
                String::from_utf8_lossy(&log),
                "{what}: what the ops wrote"
            );
            if let Some(got) = ran.links {
                assert_eq!(got, links, "{what}: link flags of the SQEs");
                assert_eq!(got.last(), Some(&0), "{what}: the last SQE links on");
            }
            if outcome == Whole && log.starts_with(SOURCE) {
                uring_tests::net::assert_kernel_bytes(&buf, SOURCE, &what);
            }
        }
    }
}

/// A chain of either kind, boxed, so that one builder serves every
/// outcome and mode.
trait PushBox<'a> {
    fn run_boxed(self: Box<Self>, mode: Mode, n: usize) -> Option<Ran>;
}

impl<'a, P: Push<'a>> PushBox<'a> for P {
    fn run_boxed(self: Box<Self>, mode: Mode, n: usize) -> Option<Ran> {
        run(mode, *self, n)
    }
}

/// `(user_data, 1)` when a marker write ran, `(user_data, -ECANCELED)`
/// when it was cancelled.
fn marker(user_data: u64, ran: bool) -> (u64, i32) {
    (user_data, if ran { 1 } else { CANCELED })
}

/// The marker bytes of the writes that ran, in order.
fn log_of(ran: &[(bool, u8)]) -> Vec<u8> {
    ran.iter().filter(|(r, _)| *r).map(|(_, b)| *b).collect()
}

/// `a.link(b)`: `b` starts when `a` succeeds and is cancelled if it fails
/// (a short read fails it too: the kernel's rule, of which the docs of
/// `link` say nothing; those of `then_write` say it).
#[test]
fn soft_link() {
    check(
        "r.link(B)",
        &UNBOUNDED,
        2,
        |f, buf| Box::new(One(f.read(buf).link(f.mark(b"B", 20)))),
        |o| {
            let b = o.passes_soft();
            (
                vec![(1, o.res()), marker(20, b)],
                log_of(&[(b, b'B')]),
                vec![LINK, 0],
            )
        },
    );
}

/// `a.hard_link(b)`: `b` starts when `a` completes, whatever its result.
#[test]
fn hard_link() {
    check(
        "r.hard_link(B)",
        &UNBOUNDED,
        2,
        |f, buf| Box::new(One(f.read(buf).hard_link(f.mark(b"B", 20)))),
        |o| {
            (
                vec![(1, o.res()), marker(20, true)],
                b"B".to_vec(),
                vec![HARD, 0],
            )
        },
    );
}

/// `a.timeout(d)` alone: the timeout is `LINK`ed after the op and carries
/// no flag of its own; a cut op gets `-ECANCELED`, its timeout `-ETIME`.
#[test]
fn bounded_op_alone() {
    check(
        "r.timeout(d)",
        &BOUNDED,
        2,
        |f, buf| Box::new(One(f.read(buf).timeout_with(f.outcome.bound(), 2))),
        |o| {
            (
                vec![(1, o.res()), (2, o.timeout_res())],
                vec![],
                vec![LINK, 0],
            )
        },
    );
}

/// `a.timeout(d).link(b)`: `b` starts when `a` succeeds; a cut `a` failed,
/// so `b` is cancelled.
#[test]
fn bounded_op_then_soft_link() {
    check(
        "r.timeout(d).link(B)",
        &BOUNDED,
        3,
        |f, buf| {
            Box::new(One(f
                .read(buf)
                .timeout_with(f.outcome.bound(), 2)
                .link(f.mark(b"B", 20))))
        },
        |o| {
            let b = o.passes_soft();
            (
                vec![(1, o.res()), (2, o.timeout_res()), marker(20, b)],
                log_of(&[(b, b'B')]),
                vec![LINK, LINK, 0],
            )
        },
    );
}

/// `a.timeout(d).hard_link(b)`: `b` starts when `a` completes, whatever
/// its result, cut by its timeout included: the op carries the hard link.
#[test]
fn bounded_op_then_hard_link() {
    check(
        "r.timeout(d).hard_link(B)",
        &BOUNDED,
        3,
        |f, buf| {
            Box::new(One(f
                .read(buf)
                .timeout_with(f.outcome.bound(), 2)
                .hard_link(f.mark(b"B", 20))))
        },
        |o| {
            (
                vec![(1, o.res()), (2, o.timeout_res()), marker(20, true)],
                b"B".to_vec(),
                vec![HARD, HARD, 0],
            )
        },
    );
}

/// `a.link(b).timeout(d).link(c)` with `b` the varying read: `c` starts
/// when `b` succeeds.
#[test]
fn soft_chain_bounded_in_the_middle() {
    check(
        "A.link(r).timeout(d).link(C)",
        &BOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .mark(b"A", 10)
                .link(f.read(buf))
                .timeout_with(f.outcome.bound(), 2)
                .link(f.mark(b"C", 30))))
        },
        |o| {
            let c = o.passes_soft();
            (
                vec![
                    marker(10, true),
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(30, c),
                ],
                log_of(&[(true, b'A'), (c, b'C')]),
                vec![LINK, LINK, LINK, 0],
            )
        },
    );
}

/// `a.hard_link(b).timeout(d).hard_link(c)` with `b` the varying read:
/// `c` starts whatever `b`'s result.
#[test]
fn hard_chain_bounded_in_the_middle() {
    check(
        "A.hard_link(r).timeout(d).hard_link(C)",
        &BOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .mark(b"A", 10)
                .hard_link(f.read(buf))
                .timeout_with(f.outcome.bound(), 2)
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![
                    marker(10, true),
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(30, true),
                ],
                b"AC".to_vec(),
                vec![HARD, HARD, HARD, 0],
            )
        },
    );
}

/// `a.link(b).timeout(d).hard_link(c)` with `b` the varying read: `b`
/// starts after `a`, and `c` after `b` whatever its result.
#[test]
fn soft_then_bounded_then_hard() {
    check(
        "A.link(r).timeout(d).hard_link(C)",
        &BOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .mark(b"A", 10)
                .link(f.read(buf))
                .timeout_with(f.outcome.bound(), 2)
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![
                    marker(10, true),
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(30, true),
                ],
                b"AC".to_vec(),
                vec![LINK, HARD, HARD, 0],
            )
        },
    );
}

/// `a.link(b).timeout(d).link(c)` and `a.hard_link(b).timeout(d)
/// .hard_link(c)` with `a` the varying read (`b` a write that succeeds):
/// soft, a failed or short `a` cancels the rest; hard, the rest runs.
#[test]
fn three_op_chains_whose_head_varies() {
    check(
        "r.link(B).timeout(d).link(C)",
        &UNBOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .read(buf)
                .link(f.mark(b"B", 20))
                .timeout_with(PATIENCE, 21)
                .link(f.mark(b"C", 30))))
        },
        |o| {
            let ran = o.passes_soft();
            (
                vec![
                    (1, o.res()),
                    marker(20, ran),
                    (21, CANCELED),
                    marker(30, ran),
                ],
                log_of(&[(ran, b'B'), (ran, b'C')]),
                vec![LINK, LINK, LINK, 0],
            )
        },
    );
    check(
        "r.hard_link(B).timeout(d).hard_link(C)",
        &UNBOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .read(buf)
                .hard_link(f.mark(b"B", 20))
                .timeout_with(PATIENCE, 21)
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![
                    (1, o.res()),
                    marker(20, true),
                    (21, CANCELED),
                    marker(30, true),
                ],
                b"BC".to_vec(),
                vec![HARD, HARD, HARD, 0],
            )
        },
    );
}

/// `a.link(b.timeout(d)).hard_link(c)`: a bounded op given to `.link` as
/// a chain of its own, then a hard link: `c` runs after the read whatever
/// its result, as after `a.link(b).timeout(d).hard_link(c)`.
#[test]
fn bounded_chain_as_next_then_hard_link() {
    check(
        "A.link(r.timeout(d)).hard_link(C)",
        &BOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .mark(b"A", 10)
                .link(f.read(buf).timeout_with(f.outcome.bound(), 2))
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![
                    marker(10, true),
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(30, true),
                ],
                b"AC".to_vec(),
                vec![LINK, HARD, HARD, 0],
            )
        },
    );
}

/// `a.link(b).hard_link(c)` with `a` failing: the kernel cancels every
/// element after a failed soft link, `c` included, although `c` is
/// hard-linked after `b` (which "completes", with `-ECANCELED`). The docs
/// of `hard_link` ("next starts when the last element completes,
/// whatever its result") do not say so; no flag layout would run `c`
/// while `b` is cancelled. This asserts what the kernel does.
#[test]
fn a_failed_soft_link_cancels_the_hard_links_after_it() {
    check(
        "r.link(B).hard_link(C)",
        &UNBOUNDED,
        3,
        |f, buf| {
            Box::new(One(f
                .read(buf)
                .link(f.mark(b"B", 20))
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            let ran = o.passes_soft();
            (
                vec![(1, o.res()), marker(20, ran), marker(30, ran)],
                log_of(&[(ran, b'B'), (ran, b'C')]),
                vec![LINK, HARD, 0],
            )
        },
    );
}

/// Why `hard_link`'s docs except a chain broken before the hard link, as
/// in `a.link(b).hard_link(c)` with `a` failing: no layout of the flags
/// does otherwise. Over every layout of two link flags (built with the
/// hidden chain builder), after a failed `a` either `b` runs (a hard link
/// after `a`) or `c` is cancelled with `b` (a soft one): never `b`
/// cancelled and `c` run.
#[test]
fn no_flag_layout_cancels_the_middle_and_runs_the_last() {
    use uring::op::LinkKind::{Hard, Soft};
    let _watch = uring_tests::watchdog();
    let mode = MODES[0];
    for (first, second) in [(Soft, Soft), (Soft, Hard), (Hard, Soft), (Hard, Hard)] {
        let fixture = Fixture::new(Fails);
        let mut buf = [0u8; 8];
        let (read, b, c) = (
            fixture.read(&mut buf),
            fixture.mark(b"B", 20),
            fixture.mark(b"C", 30),
        );
        // SAFETY: three plain ops, each allowed to follow another with
        // either kind of link; no link timeout anywhere.
        let chain = unsafe { uring::op::link(uring::op::link(read, b, first), c, second) };
        let ran = run(mode, One(chain), 3).expect("a plain ring");
        let b_ran = first == Hard;
        // `b` succeeds when it runs, so then either link lets `c` run.
        let c_ran = b_ran;
        assert_eq!(
            ran.done,
            [(1, -libc::EBADF), marker(20, b_ran), marker(30, c_ran)],
            "{first:?}, {second:?}"
        );
        assert_ne!(
            (b_ran, c_ran),
            (false, true),
            "a layout that cancels b and runs c"
        );
    }
}

/// `a.hard_link(b).link(c)` with `a` varying: `b` runs whatever `a`'s
/// result, and `c` after `b` succeeds.
#[test]
fn hard_then_soft() {
    check(
        "r.hard_link(B).link(C)",
        &UNBOUNDED,
        3,
        |f, buf| {
            Box::new(One(f
                .read(buf)
                .hard_link(f.mark(b"B", 20))
                .link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![(1, o.res()), marker(20, true), marker(30, true)],
                b"BC".to_vec(),
                vec![HARD, LINK, 0],
            )
        },
    );
}

/// An op and the link timeout that bounds it.
type Bounded<Op> = Link<Op, LinkTimeout>;

/// A bounded read or a bounded write.
type BoundedSide<'a> = Either<Bounded<Read<'a, Fd<'a>>>, Bounded<Write<'a, Fd<'a>>>>;

/// An `Either` of a bounded read and a bounded write, the read on the side
/// `read_left` names.
fn either_side<'a>(f: &'a Fixture, buf: &'a mut [u8; 8], read_left: bool) -> BoundedSide<'a> {
    if read_left {
        Either::Left(f.read(buf).timeout_with(f.outcome.bound(), 2))
    } else {
        Either::Right(f.mark(b"B", 20).timeout_with(PATIENCE, 21))
    }
}

/// An `Either` of two ops, the read on the side `read_left` names.
fn either_op<'a>(
    f: &'a Fixture,
    buf: &'a mut [u8; 8],
    read_left: bool,
) -> Either<Read<'a, Fd<'a>>, Write<'a, Fd<'a>>> {
    if read_left {
        Either::Left(f.read(buf))
    } else {
        Either::Right(f.mark(b"B", 20))
    }
}

/// An `Either` of two ops (an `Either` of chains cannot start one), linked
/// on, and bounded then linked on: as the side alone would, `c` runs after
/// the read whatever its result (hard), or after it succeeds (soft).
#[test]
fn either_then_links() {
    check(
        "Either::Left(r).link(C)",
        &UNBOUNDED,
        2,
        |f, buf| Box::new(One(either_op(f, buf, true).link(f.mark(b"C", 30)))),
        |o| {
            let c = o.passes_soft();
            (
                vec![(1, o.res()), marker(30, c)],
                log_of(&[(c, b'C')]),
                vec![LINK, 0],
            )
        },
    );
    check(
        "Either::Left(r).hard_link(C)",
        &UNBOUNDED,
        2,
        |f, buf| Box::new(One(either_op(f, buf, true).hard_link(f.mark(b"C", 30)))),
        |o| {
            (
                vec![(1, o.res()), marker(30, true)],
                b"C".to_vec(),
                vec![HARD, 0],
            )
        },
    );
    check(
        "Either::Left(r).timeout(d).hard_link(C)",
        &BOUNDED,
        3,
        |f, buf| {
            Box::new(One(either_op(f, buf, true)
                .timeout_with(f.outcome.bound(), 2)
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![(1, o.res()), (2, o.timeout_res()), marker(30, true)],
                b"C".to_vec(),
                vec![HARD, HARD, 0],
            )
        },
    );
    check(
        "Either::Left(r).timeout(d).link(C)",
        &BOUNDED,
        3,
        |f, buf| {
            Box::new(One(either_op(f, buf, true)
                .timeout_with(f.outcome.bound(), 2)
                .link(f.mark(b"C", 30))))
        },
        |o| {
            let c = o.passes_soft();
            (
                vec![(1, o.res()), (2, o.timeout_res()), marker(30, c)],
                log_of(&[(c, b'C')]),
                vec![LINK, LINK, 0],
            )
        },
    );
    check(
        "Either::Right(B).timeout(d).hard_link(C)",
        &[Whole],
        3,
        |f, buf| {
            Box::new(One(either_op(f, buf, false)
                .timeout_with(PATIENCE, 21)
                .hard_link(f.mark(b"C", 30))))
        },
        |_| {
            (
                vec![marker(20, true), (21, CANCELED), marker(30, true)],
                b"BC".to_vec(),
                vec![HARD, HARD, 0],
            )
        },
    );
    // The mirror: the read on the right.
    check(
        "Either::Right(r).timeout(d).hard_link(C)",
        &BOUNDED,
        3,
        |f, buf| {
            let side: Either<Write<'_, Fd<'_>>, _> = Either::Right(f.read(buf));
            Box::new(One(side
                .timeout_with(f.outcome.bound(), 2)
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![(1, o.res()), (2, o.timeout_res()), marker(30, true)],
                b"C".to_vec(),
                vec![HARD, HARD, 0],
            )
        },
    );
}

/// An `Either` of bounded ops in the middle of a chain:
/// `a.link(Either::Left(r.timeout(d))).hard_link(c)` and the same with a
/// soft link after it.
#[test]
fn either_in_the_middle_of_a_chain() {
    check(
        "A.link(Either::Left(r.timeout(d))).hard_link(C)",
        &BOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .mark(b"A", 10)
                .link(either_side(f, buf, true))
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            (
                vec![
                    marker(10, true),
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(30, true),
                ],
                b"AC".to_vec(),
                vec![LINK, HARD, HARD, 0],
            )
        },
    );
    check(
        "A.hard_link(Either::Left(r.timeout(d))).link(C)",
        &BOUNDED,
        4,
        |f, buf| {
            Box::new(One(f
                .mark(b"A", 10)
                .hard_link(either_side(f, buf, true))
                .link(f.mark(b"C", 30))))
        },
        |o| {
            let c = o.passes_soft();
            (
                vec![
                    marker(10, true),
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(30, c),
                ],
                log_of(&[(true, b'A'), (c, b'C')]),
                vec![HARD, LINK, LINK, 0],
            )
        },
    );
}

/// The elements of a `Linked` chain of ops: the varying read, then two
/// marker writes.
fn linked_ops<'a>(
    f: &'a Fixture,
    buf: &'a mut [u8; 8],
) -> Vec<Either<Read<'a, Fd<'a>>, Write<'a, Fd<'a>>>> {
    vec![
        Either::Left(f.read(buf)),
        Either::Right(f.mark(b"B", 20)),
        Either::Right(f.mark(b"C", 30)),
    ]
}

/// `Linked::new(ops)`: each op starts when the one before succeeds;
/// `Linked::hard(ops)`: when it completes, whatever its result.
#[test]
fn linked_chains_of_ops() {
    check(
        "Linked::new([r, B, C])",
        &UNBOUNDED,
        3,
        |f, buf| Box::new(Many(Linked::new(linked_ops(f, buf)))),
        |o| {
            let ran = o.passes_soft();
            (
                vec![(1, o.res()), marker(20, ran), marker(30, ran)],
                log_of(&[(ran, b'B'), (ran, b'C')]),
                vec![LINK, LINK, 0],
            )
        },
    );
    check(
        "Linked::hard([r, B, C])",
        &UNBOUNDED,
        3,
        |f, buf| Box::new(Many(Linked::hard(linked_ops(f, buf)))),
        |o| {
            (
                vec![(1, o.res()), marker(20, true), marker(30, true)],
                b"BC".to_vec(),
                vec![HARD, HARD, 0],
            )
        },
    );
}

/// The elements of a `Linked` chain of bounded ops: the varying read,
/// then two marker writes, each with its link timeout.
fn linked_bounded<'a>(f: &'a Fixture, buf: &'a mut [u8; 8]) -> Vec<BoundedSide<'a>> {
    vec![
        Either::Left(f.read(buf).timeout_with(f.outcome.bound(), 2)),
        Either::Right(f.mark(b"B", 20).timeout_with(PATIENCE, 21)),
        Either::Right(f.mark(b"C", 30).timeout_with(PATIENCE, 31)),
    ]
}

/// `Linked::new` and `Linked::hard` of `Link<op, LinkTimeout>` elements:
/// the link between elements is between the bounded ops, so a hard chain
/// runs the next element after a read its timeout cut.
#[test]
fn linked_chains_of_bounded_ops() {
    check(
        "Linked::new([r.timeout(d), B.timeout(d), C.timeout(d)])",
        &BOUNDED,
        6,
        |f, buf| Box::new(Many(Linked::new(linked_bounded(f, buf)))),
        |o| {
            let ran = o.passes_soft();
            (
                vec![
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(20, ran),
                    (21, CANCELED),
                    marker(30, ran),
                    (31, CANCELED),
                ],
                log_of(&[(ran, b'B'), (ran, b'C')]),
                vec![LINK, LINK, LINK, LINK, LINK, 0],
            )
        },
    );
    check(
        "Linked::hard([r.timeout(d), B.timeout(d), C.timeout(d)])",
        &BOUNDED,
        6,
        |f, buf| Box::new(Many(Linked::hard(linked_bounded(f, buf)))),
        |o| {
            (
                vec![
                    (1, o.res()),
                    (2, o.timeout_res()),
                    marker(20, true),
                    (21, CANCELED),
                    marker(30, true),
                    (31, CANCELED),
                ],
                b"BC".to_vec(),
                // The last element's op soft-links its own timeout.
                vec![HARD, HARD, HARD, HARD, LINK, 0],
            )
        },
    );
}

/// A read and the write of what it read.
type Pair<'a> = Link<Read<'a, Fd<'a>>, ThenWrite<Write<'a, Fd<'a>>>>;

/// The varying read, then a write of its buffer to the log (`user_data`
/// 3).
fn pair<'a>(f: &'a Fixture, buf: &'a mut [u8; 8]) -> Pair<'a> {
    f.read(buf).then_write_with(&f.log_tx, |w| w.user_data(3))
}

/// What a pair wrote: the read's bytes when it was whole.
fn pair_res(o: Outcome) -> (u64, i32) {
    (3, if o == Whole { 8 } else { CANCELED })
}

/// Whether `C` after a pair ran, and the log the pair and `C` leave: the
/// read's bytes and `C`'s marker after a whole read, nothing otherwise.
fn pair_then_c_log(o: Outcome) -> (bool, Vec<u8>) {
    let ran = o == Whole;
    let mut log = if ran { SOURCE.to_vec() } else { vec![] };
    log.extend(log_of(&[(ran, b'C')]));
    (ran, log)
}

/// `read.then_write(..)` followed by `.link(c)`, `.timeout(d).link(c)` and
/// `.timeout(d).hard_link(c)`: the write runs only after a whole read;
/// `.link(c)` runs `c` once the write succeeds.
#[test]
fn then_write_pairs_linked_on() {
    check(
        "r.then_write(log).link(C)",
        &UNBOUNDED,
        3,
        |f, buf| Box::new(One(pair(f, buf).link(f.mark(b"C", 30)))),
        |o| {
            let (ran, log) = pair_then_c_log(o);
            (
                vec![(1, o.res()), pair_res(o), marker(30, ran)],
                log,
                vec![LINK, LINK, 0],
            )
        },
    );
    check(
        "r.then_write(log).timeout(d).link(C)",
        &UNBOUNDED,
        4,
        |f, buf| {
            Box::new(One(pair(f, buf)
                .timeout_with(PATIENCE, 4)
                .link(f.mark(b"C", 30))))
        },
        |o| {
            let (ran, log) = pair_then_c_log(o);
            (
                vec![(1, o.res()), pair_res(o), (4, CANCELED), marker(30, ran)],
                log,
                vec![LINK, LINK, LINK, 0],
            )
        },
    );
}

/// `read.then_write(..).hard_link(c)` (and with a link timeout between):
/// after a whole read, `c` runs after the write. After a failed or short
/// read the kernel cancels the write and, the read's soft link having
/// failed, `c` too, although it is hard-linked after the write: the docs
/// of `then_write` say `.link(next)` runs `next` once the write succeeds
/// and are silent on `.hard_link`; those of `hard_link` do not hold here
/// (see `a_failed_soft_link_cancels_the_hard_links_after_it`). This
/// asserts what the kernel does.
#[test]
fn then_write_pairs_hard_linked_on() {
    check(
        "r.then_write(log).hard_link(C)",
        &UNBOUNDED,
        3,
        |f, buf| Box::new(One(pair(f, buf).hard_link(f.mark(b"C", 30)))),
        |o| {
            let (ran, log) = pair_then_c_log(o);
            (
                vec![(1, o.res()), pair_res(o), marker(30, ran)],
                log,
                vec![LINK, HARD, 0],
            )
        },
    );
    check(
        "r.then_write(log).timeout(d).hard_link(C)",
        &UNBOUNDED,
        4,
        |f, buf| {
            Box::new(One(pair(f, buf)
                .timeout_with(PATIENCE, 4)
                .hard_link(f.mark(b"C", 30))))
        },
        |o| {
            let (ran, log) = pair_then_c_log(o);
            (
                vec![(1, o.res()), pair_res(o), (4, CANCELED), marker(30, ran)],
                log,
                vec![LINK, HARD, HARD, 0],
            )
        },
    );
}

/// `Linked::hard` of two pairs: the second pair starts after the first
/// write completes; after a failed first read the kernel cancels it with
/// the rest of the chain (the soft link inside the pair failed).
#[test]
fn linked_hard_chain_of_pairs() {
    let _watch = uring_tests::watchdog();
    for outcome in UNBOUNDED {
        for mode in MODES {
            let fixture = Fixture::new(outcome);
            let (second, second_tx) = pipe();
            write_all(second_tx.as_fd(), b"abcdefgh");
            let (mut one, mut two) = ([0u8; 8], [0u8; 8]);
            let chain = Linked::hard(vec![
                pair(&fixture, &mut one),
                Read::new(&second, &mut two[..])
                    .user_data(5)
                    .then_write_with(&fixture.log_tx, |w| w.user_data(6)),
            ]);
            let Some(ran) = run(mode, Many(chain), 4) else {
                continue;
            };
            let what = format!("Linked::hard([pair, pair]), {outcome:?} read, {mode:?}");
            let ran_on = outcome == Whole;
            let mut want = vec![
                (1, outcome.res()),
                pair_res(outcome),
                (5, if ran_on { 8 } else { CANCELED }),
                (6, if ran_on { 8 } else { CANCELED }),
            ];
            want.sort_unstable();
            assert_eq!(ran.done, want, "{what}: completions");
            let log = if ran_on {
                b"01234567abcdefgh".to_vec()
            } else {
                vec![]
            };
            assert_eq!(fixture.logged(), log, "{what}: log");
            if let Some(links) = ran.links {
                assert_eq!(links, [LINK, HARD, LINK, 0], "{what}: link flags");
            }
        }
    }
}

/// A pair whose write its link timeout cuts (the log pipe is full), then
/// `.hard_link(c)`: `c` runs, the write carrying the hard link; with
/// `.link(c)`, `c` is cancelled.
#[test]
fn then_write_pair_whose_write_is_cut() {
    let _watch = uring_tests::watchdog();
    for hard in [false, true] {
        for mode in MODES {
            let fixture = Fixture::new(Whole);
            // A second log, full, for the pair's write to wait on.
            let (full, full_tx) = pipe();
            set_nonblocking(full_tx.as_fd());
            let filler = vec![0u8; 4096];
            // SAFETY: `filler` is readable for its length.
            while unsafe { libc::write(full_tx.as_raw_fd(), filler.as_ptr().cast(), filler.len()) }
                > 0
            {}
            clear_nonblocking(full_tx.as_fd());
            let mut buf = [0u8; 8];
            let bounded = fixture
                .read(&mut buf)
                .then_write_with(&full_tx, |w| w.user_data(3))
                .timeout_with(Duration::from_millis(5), 4);
            let next = fixture.mark(b"C", 30);
            let ran = if hard {
                run(mode, One(bounded.hard_link(next)), 4)
            } else {
                run(mode, One(bounded.link(next)), 4)
            };
            let Some(ran) = ran else { continue };
            let what = format!(
                "pair.timeout(5 ms).{}(C), {mode:?}",
                if hard { "hard_link" } else { "link" }
            );
            assert_eq!(
                ran.done,
                [(1, 8), (3, CANCELED), (4, ETIME), marker(30, hard)],
                "{what}: completions"
            );
            assert_eq!(
                fixture.logged(),
                if hard { b"C".to_vec() } else { vec![] },
                "{what}: log"
            );
            if let Some(links) = ran.links {
                let last = if hard { HARD } else { LINK };
                assert_eq!(links, [LINK, last, last, 0], "{what}: link flags");
            }
            drop(full);
        }
    }
}

fn clear_nonblocking(fd: BorrowedFd<'_>) {
    // SAFETY: F_GETFL / F_SETFL on a descriptor this process owns.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK),
            0
        );
    }
}
