//! `Ring::cancel_sync` and `Scope::cancel_sync` by several keys at once:
//! a descriptor, an opcode and a `user_data`, each narrowing what the
//! others match (`IORING_ASYNC_CANCEL_FD | _OP | _USERDATA`, 6.6).
//!
//! Every case starts the same five requests, on two empty pipes A and B:
//!
//! | op | pipe | opcode   | user_data |
//! |----|------|----------|-----------|
//! | a  | A    | READ     | 10        |
//! | b  | A    | READ     | 11        |
//! | c  | A    | POLL_ADD | 10        |
//! | d  | B    | READ     | 10        |
//! | e  | B    | POLL_ADD | 11        |
//!
//! cancels them by a combination of keys, given in every order, with and
//! without `all`, then writes to both pipes and closes their write ends, so
//! that every request still armed completes: a read with the bytes of its
//! pipe (3 on A, 5 on B; the second read of A with 0, at its end), a poll
//! (for `POLLPRI`, which a pipe never reports) with `POLLHUP`. Which
//! requests completed with `-ECANCELED`, and which with their pipe's data,
//! is compared with what the keys match: all of them with `all`, exactly
//! one without, and `ENOENT` without `all` when none matches.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use uring::ops::Nop;
use uring::ops::{PollAdd, Read};
use uring::{Cqe, Error, Features, IntoTarget, PollEvents, Ring, SyncCancel};
use uring_tests::{PATIENCE, pairs, push_lent, require_kernel, scope_reap, submit_and_reap};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Pipe {
    A,
    B,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Read,
    Poll,
}

/// One of the five requests.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Op {
    name: char,
    pipe: Pipe,
    kind: Kind,
    user_data: u64,
}

const OPS: [Op; 5] = [
    Op {
        name: 'a',
        pipe: Pipe::A,
        kind: Kind::Read,
        user_data: 10,
    },
    Op {
        name: 'b',
        pipe: Pipe::A,
        kind: Kind::Read,
        user_data: 11,
    },
    Op {
        name: 'c',
        pipe: Pipe::A,
        kind: Kind::Poll,
        user_data: 10,
    },
    Op {
        name: 'd',
        pipe: Pipe::B,
        kind: Kind::Read,
        user_data: 10,
    },
    Op {
        name: 'e',
        pipe: Pipe::B,
        kind: Kind::Poll,
        user_data: 11,
    },
];

/// What each pipe gets before its write end is closed.
const A_BYTES: &[u8] = b"abc";
const B_BYTES: &[u8] = b"hello";

/// A combination of keys.
#[derive(Clone, Copy, Debug)]
struct Keys {
    pipe: Option<Pipe>,
    kind: Option<Kind>,
    user_data: Option<u64>,
}

impl Keys {
    fn matches(&self, op: &Op) -> bool {
        self.pipe.is_none_or(|p| p == op.pipe)
            && self.kind.is_none_or(|k| k == op.kind)
            && self.user_data.is_none_or(|u| u == op.user_data)
    }

    fn matching(&self) -> BTreeSet<Op> {
        OPS.iter().copied().filter(|op| self.matches(op)).collect()
    }
}

const fn keys(pipe: Option<Pipe>, kind: Option<Kind>, user_data: Option<u64>) -> Keys {
    Keys {
        pipe,
        kind,
        user_data,
    }
}

/// Every combination of two or three keys the cases try: some matching
/// several requests, some one, some none.
const CASES: &[Keys] = &[
    keys(Some(Pipe::A), Some(Kind::Read), None),
    keys(Some(Pipe::A), None, Some(10)),
    keys(None, Some(Kind::Read), Some(10)),
    keys(Some(Pipe::A), Some(Kind::Read), Some(10)),
    keys(Some(Pipe::B), Some(Kind::Poll), None),
    keys(None, Some(Kind::Poll), Some(10)),
    keys(Some(Pipe::B), None, Some(11)),
    keys(Some(Pipe::B), Some(Kind::Read), Some(11)),
    keys(Some(Pipe::A), Some(Kind::Poll), Some(11)),
    keys(None, Some(Kind::Poll), Some(12)),
    keys(Some(Pipe::B), None, Some(12)),
];

#[derive(Clone, Copy, Debug)]
enum Key {
    Fd,
    Op,
    UserData,
}

/// The orders the keys are given in.
const ORDERS: [[Key; 3]; 6] = [
    [Key::Fd, Key::Op, Key::UserData],
    [Key::Fd, Key::UserData, Key::Op],
    [Key::Op, Key::Fd, Key::UserData],
    [Key::Op, Key::UserData, Key::Fd],
    [Key::UserData, Key::Fd, Key::Op],
    [Key::UserData, Key::Op, Key::Fd],
];

/// `keys` as a `SyncCancel`, the first present key of `order` its
/// constructor and the others added with `and_*`; the pipes named through
/// `target`.
fn build<'a, T: IntoTarget>(
    keys: &Keys,
    order: [Key; 3],
    target: impl Fn(Pipe) -> T,
    all: bool,
) -> SyncCancel<'a>
where
    T::Target: 'a,
{
    let mut what: Option<SyncCancel<'a>> = None;
    for key in order {
        what = match (key, what) {
            (Key::Fd, _) if keys.pipe.is_none() => what,
            (Key::Op, _) if keys.kind.is_none() => what,
            (Key::UserData, _) if keys.user_data.is_none() => what,
            (Key::Fd, None) => Some(SyncCancel::fd(target(keys.pipe.unwrap()))),
            (Key::Fd, Some(w)) => Some(w.and_fd(target(keys.pipe.unwrap()))),
            (Key::Op, None) => Some(match keys.kind.unwrap() {
                Kind::Read => SyncCancel::op::<Read<'_>>(),
                Kind::Poll => SyncCancel::op::<PollAdd>(),
            }),
            (Key::Op, Some(w)) => Some(match keys.kind.unwrap() {
                Kind::Read => w.and_op::<Read<'_>>(),
                Kind::Poll => w.and_op::<PollAdd>(),
            }),
            (Key::UserData, None) => Some(SyncCancel::user_data(keys.user_data.unwrap())),
            (Key::UserData, Some(w)) => Some(w.and_user_data(keys.user_data.unwrap())),
        };
    }
    let what = what.expect("at least one key");
    if all { what.all() } else { what }
}

/// Whether `e` is the kernel's `ENOENT`.
fn is_enoent(e: &Error) -> bool {
    e.raw_os_error() == Some(libc::ENOENT)
}

/// The read ends of the two pipes.
struct Pipes {
    a: OwnedFd,
    b: OwnedFd,
}

/// Their write ends.
struct Writers {
    a: OwnedFd,
    b: OwnedFd,
}

fn pipes() -> (Pipes, Writers) {
    let (a, a_w) = uring_tests::pipe();
    let (b, b_w) = uring_tests::pipe();
    (Pipes { a, b }, Writers { a: a_w, b: b_w })
}

impl Pipes {
    fn read_end(&self, pipe: Pipe) -> BorrowedFd<'_> {
        match pipe {
            Pipe::A => self.a.as_fd(),
            Pipe::B => self.b.as_fd(),
        }
    }
}

impl Writers {
    /// Writes each pipe's bytes and closes its write end: every request
    /// still armed completes.
    fn finish(self) {
        std::fs::File::from(self.a).write_all(A_BYTES).unwrap();
        std::fs::File::from(self.b).write_all(B_BYTES).unwrap();
    }
}

/// Which request a completion of one that still ran is, from its pipe's
/// data: a read of A completes with 3 bytes (or, the second, with 0), a
/// read of B with 5, a poll with `POLLHUP`; the polls carry different
/// `user_data`, as do the reads of A.
fn survivor(user_data: u64, res: i32) -> Op {
    let (pipe, kind) = match res {
        r if r == libc::POLLHUP as i32 => (None, Kind::Poll),
        3 | 0 => (Some(Pipe::A), Kind::Read),
        5 => (Some(Pipe::B), Kind::Read),
        _ => panic!("an unexpected completion: ({user_data}, {res})"),
    };
    let found: Vec<Op> = OPS
        .iter()
        .copied()
        .filter(|op| {
            op.kind == kind && op.user_data == user_data && pipe.is_none_or(|p| p == op.pipe)
        })
        .collect();
    assert_eq!(found.len(), 1, "({user_data}, {res}) names one request");
    found[0]
}

/// Checks what one case did: the cancel's result, then the five
/// completions against what `keys` match.
fn check(what: &str, keys: &Keys, all: bool, result: uring::Result<()>, cqes: &[Cqe]) {
    let matching = keys.matching();
    match &result {
        Err(e) if matching.is_empty() && !all && is_enoent(e) => {}
        Ok(()) if !matching.is_empty() || all => {}
        other => panic!("{what}: the cancel answered {other:?}; it matches {matching:?}"),
    }
    assert_eq!(cqes.len(), OPS.len(), "{what}: {:?}", pairs(cqes));
    let mut cancelled_user_data: Vec<u64> = Vec::new();
    let mut survivors = BTreeSet::new();
    let mut read_a = 0;
    for cqe in cqes {
        if cqe.res() == -libc::ECANCELED {
            cancelled_user_data.push(cqe.user_data());
            continue;
        }
        let op = survivor(cqe.user_data(), cqe.res());
        if op.kind == Kind::Read && op.pipe == Pipe::A {
            read_a += cqe.res();
        }
        assert!(survivors.insert(op), "{what}: {op:?} completed twice");
    }
    let cancelled: BTreeSet<Op> = OPS
        .iter()
        .copied()
        .filter(|op| !survivors.contains(op))
        .collect();
    let names = |ops: &BTreeSet<Op>| ops.iter().map(|op| op.name).collect::<String>();
    if all {
        assert_eq!(
            names(&cancelled),
            names(&matching),
            "{what}: every request the keys match was cancelled, and no other"
        );
    } else {
        assert_eq!(
            cancelled.len(),
            matching.len().min(1),
            "{what}: one request cancelled (of {}): {}",
            names(&matching),
            names(&cancelled)
        );
        assert!(
            cancelled.is_subset(&matching),
            "{what}: {} cancelled, the keys match {}",
            names(&cancelled),
            names(&matching)
        );
    }
    let mut want: Vec<u64> = cancelled.iter().map(|op| op.user_data).collect();
    want.sort_unstable();
    cancelled_user_data.sort_unstable();
    assert_eq!(
        cancelled_user_data, want,
        "{what}: the -ECANCELED completions are those of the requests that did not run on"
    );
    if survivors
        .iter()
        .any(|op| op.kind == Kind::Read && op.pipe == Pipe::A)
    {
        assert_eq!(read_a, A_BYTES.len() as i32, "{what}: A's bytes, read once");
    }
}

/// The five requests, pushed to `ring` through `push`.
macro_rules! push_five {
    ($pipes:expr, $bufs:expr, |$op:ident| $push:expr) => {{
        let [buf_a, buf_b, buf_d] = $bufs;
        let a = $pipes.read_end(Pipe::A);
        let b = $pipes.read_end(Pipe::B);
        // POLLPRI: a pipe never reports it; its hang-up ends the poll.
        let pri = PollEvents::PRI;
        {
            let $op = Read::new(a, &mut buf_a[..]).user_data(10);
            $push;
        }
        {
            let $op = Read::new(a, &mut buf_b[..]).user_data(11);
            $push;
        }
        {
            let $op = PollAdd::new(a, pri).user_data(10);
            $push;
        }
        {
            let $op = Read::new(b, &mut buf_d[..]).user_data(10);
            $push;
        }
        {
            let $op = PollAdd::new(b, pri).user_data(11);
            $push;
        }
    }};
}

/// Whether the kernel matches requests by opcode and by `user_data`
/// beside another key.
fn supported() -> bool {
    require_kernel(
        6,
        6,
        "IORING_ASYNC_CANCEL_OP and IORING_ASYNC_CANCEL_USERDATA",
    )
}

/// One case on a plain ring: the requests pushed outside any scope, the
/// pipes named by descriptor or, with `fixed`, by registered file.
fn on_ring(keys: &Keys, order: [Key; 3], all: bool, fixed: bool) {
    let what = format!("{keys:?}, given {order:?}, all: {all}, fixed: {fixed}");
    let mut ring = Ring::new(16).unwrap();
    let (pipes, writers) = pipes();
    let mut bufs = [[0u8; 8]; 3];
    let files = ring
        .register_files(&[pipes.read_end(Pipe::A), pipes.read_end(Pipe::B)])
        .unwrap();
    push_five!(pipes, &mut bufs, |op| push_lent!(ring, op).unwrap());
    ring.submit().unwrap();
    let result = if fixed {
        let slot = |p: Pipe| files.get(p as u32).unwrap();
        ring.cancel_sync(build(keys, order, slot, all), Some(PATIENCE))
    } else {
        let fd = |p: Pipe| pipes.read_end(p);
        ring.cancel_sync(build(keys, order, fd, all), Some(PATIENCE))
    };
    writers.finish();
    let cqes = submit_and_reap(&mut ring, OPS.len());
    check(&what, keys, all, result, &cqes);
    // What ran on read its pipe's bytes; what was cancelled read nothing.
    if cqes.iter().any(|c| (c.user_data(), c.res()) == (10, 5)) {
        assert_eq!(&bufs[2][..5], B_BYTES, "{what}: d read B's bytes");
    } else {
        assert_eq!(bufs[2], [0; 8], "{what}: d was cancelled and read nothing");
    }
}

#[test]
fn by_two_or_three_keys_in_any_order() {
    let _watch = uring_tests::watchdog();
    if !supported() {
        return;
    }
    for keys in CASES {
        for order in ORDERS {
            for all in [false, true] {
                on_ring(keys, order, all, false);
            }
        }
    }
}

/// A registered file as the descriptor key matches the requests on its
/// file, pushed by plain descriptor.
#[test]
fn by_a_registered_file_and_other_keys() {
    let _watch = uring_tests::watchdog();
    if !supported() {
        return;
    }
    for keys in CASES {
        for all in [false, true] {
            on_ring(keys, ORDERS[0], all, true);
        }
    }
}

/// `any` matches every request whatever the kernel is told beside it; a
/// key added to it replaces it: `any().and_fd(A)` cancels A's requests
/// alone, `any().all().and_op::<PollAdd>().and_user_data(11)` the poll of
/// B alone.
#[test]
fn a_key_added_to_any_replaces_it() {
    let _watch = uring_tests::watchdog();
    if !supported() {
        return;
    }
    let cases = [
        (
            SyncCancel::any().all(),
            keys(None, None, None),
            "any, all: every request",
        ),
        (
            SyncCancel::any().all().and_user_data(10),
            keys(None, None, Some(10)),
            "any().all().and_user_data(10)",
        ),
        (
            SyncCancel::any()
                .all()
                .and_op::<PollAdd>()
                .and_user_data(11),
            keys(None, Some(Kind::Poll), Some(11)),
            "any().all().and_op::<PollAdd>().and_user_data(11)",
        ),
    ];
    for (what, keys, name) in cases {
        let mut ring = Ring::new(16).unwrap();
        let (pipes, writers) = pipes();
        let mut bufs = [[0u8; 8]; 3];
        push_five!(pipes, &mut bufs, |op| push_lent!(ring, op).unwrap());
        ring.submit().unwrap();
        let result = ring.cancel_sync(what, Some(PATIENCE));
        writers.finish();
        let cqes = submit_and_reap(&mut ring, OPS.len());
        check(name, &keys, true, result, &cqes);
    }
    // With a descriptor, made while the pipes live.
    let mut ring = Ring::new(16).unwrap();
    let (pipes, writers) = pipes();
    let mut bufs = [[0u8; 8]; 3];
    push_five!(pipes, &mut bufs, |op| push_lent!(ring, op).unwrap());
    ring.submit().unwrap();
    let what = SyncCancel::any().all().and_fd(pipes.read_end(Pipe::A));
    let result = ring.cancel_sync(what, Some(PATIENCE));
    writers.finish();
    let cqes = submit_and_reap(&mut ring, OPS.len());
    check(
        "any().all().and_fd(A)",
        &keys(Some(Pipe::A), None, None),
        true,
        result,
        &cqes,
    );
}

/// A ring on which every scope tags every op: an op was pushed outside one.
fn tagging_ring() -> Ring {
    let mut ring = Ring::new(16).unwrap();
    ring.push(Nop::new().user_data(1000)).unwrap();
    submit_and_reap(&mut ring, 1);
    ring
}

/// One case in a scope of `ring`, which tags every op or not (`tags`):
/// the kernel sees the scope's tags in place of the `user_data` the
/// requests were pushed with, so a key that includes a `user_data` is
/// translated to the tags of the scope's requests that carry it, the other
/// keys kept.
fn in_scope(ring: &mut Ring, tags: bool, keys: &Keys, order: [Key; 3], all: bool) {
    let what = format!("in a scope (tags: {tags}): {keys:?}, given {order:?}, all: {all}");
    let (pipes, writers) = pipes();
    let mut bufs = [[0u8; 8]; 3];
    let (result, cqes) = ring.scope(|s| {
        assert_eq!(s.tags_every_op(), tags);
        push_five!(pipes, &mut bufs, |op| s.push(op).unwrap());
        s.submit().unwrap();
        let fd = |p: Pipe| pipes.read_end(p);
        let result = s.cancel_sync(build(keys, order, fd, all), Some(PATIENCE));
        writers.finish();
        let cqes = scope_reap(s, OPS.len());
        (result, cqes)
    });
    check(&what, keys, all, result, &cqes);
}

#[test]
fn in_a_scope_that_tags_every_op() {
    let _watch = uring_tests::watchdog();
    if !supported() {
        return;
    }
    let mut ring = tagging_ring();
    for keys in CASES {
        for order in [ORDERS[0], ORDERS[4]] {
            for all in [false, true] {
                in_scope(&mut ring, true, keys, order, all);
            }
        }
    }
}

#[test]
fn in_a_scope_that_tags_only_some_ops() {
    let _watch = uring_tests::watchdog();
    if !supported() {
        return;
    }
    let mut ring = Ring::new(16).unwrap();
    let fast = ring.params().features().contains(Features::REG_REG_RING);
    for keys in CASES {
        for all in [false, true] {
            in_scope(&mut ring, !fast, keys, ORDERS[2], all);
        }
    }
}

/// In a scope that tags every op, three reads carry the same `user_data`,
/// two of them on pipe A: `fd(A).and_user_data(7)` without `all` cancels
/// one of those two, again the other, then finds none (`ENOENT`), though
/// the read of B still carries 7; with `all`, both at once. The read of B
/// runs on.
#[test]
fn a_tagging_scope_finds_each_op_the_other_keys_match() {
    let _watch = uring_tests::watchdog();
    if !supported() {
        return;
    }
    for all in [false, true] {
        let mut ring = tagging_ring();
        let (a_r, a_w) = uring_tests::pipe();
        let (b_r, b_w) = uring_tests::pipe();
        let mut bufs = [[0u8; 4]; 3];
        ring.scope(|s| {
            assert!(s.tags_every_op());
            let [x, y, z] = &mut bufs;
            s.push(Read::new(&b_r, &mut z[..]).user_data(7)).unwrap();
            s.push(Read::new(&a_r, &mut x[..]).user_data(7)).unwrap();
            s.push(Read::new(&a_r, &mut y[..]).user_data(7)).unwrap();
            s.submit().unwrap();
            let on_a = SyncCancel::fd(&a_r).and_user_data(7);
            if all {
                s.cancel_sync(on_a.all(), Some(PATIENCE)).unwrap();
            } else {
                s.cancel_sync(on_a, Some(PATIENCE)).unwrap();
                s.cancel_sync(on_a, Some(PATIENCE)).unwrap();
                let none = s.cancel_sync(on_a, Some(PATIENCE)).unwrap_err();
                assert!(is_enoent(&none), "{none:?}");
            }
            let got = pairs(&scope_reap(s, 2));
            assert_eq!(got, [(7, -libc::ECANCELED), (7, -libc::ECANCELED)]);
            assert_eq!(s.in_flight(), 1, "the read of B runs on");
            std::fs::File::from(b_w).write_all(b"b").unwrap();
            assert_eq!(pairs(&scope_reap(s, 1)), [(7, 1)]);
        });
        drop(a_w);
        assert_eq!(bufs, [[0; 4], [0; 4], [b'b', 0, 0, 0]]);
    }
}

/// What the combinators build: `user_data(u).and_fd(f)` is
/// `fd(f).and_user_data(u)`, and so on, as the kernel reads them; shown by
/// `Debug`, which prints the registration's fields.
#[test]
fn the_order_of_the_keys_does_not_matter() {
    let (r, _w) = uring_tests::pipe();
    let fd = r.as_fd();
    let forms = [
        SyncCancel::fd(fd).and_op::<Read<'_>>().and_user_data(5),
        SyncCancel::fd(fd).and_user_data(5).and_op::<Read<'_>>(),
        SyncCancel::op::<Read<'_>>().and_fd(fd).and_user_data(5),
        SyncCancel::op::<Read<'_>>().and_user_data(5).and_fd(fd),
        SyncCancel::user_data(5).and_fd(fd).and_op::<Read<'_>>(),
        SyncCancel::user_data(5).and_op::<Read<'_>>().and_fd(fd),
        SyncCancel::any()
            .and_user_data(5)
            .and_op::<Read<'_>>()
            .and_fd(fd),
    ];
    let first = format!("{:?}", forms[0]);
    for form in &forms[1..] {
        assert_eq!(format!("{form:?}"), first);
    }
    // A key given twice keeps the last value; `user_data(0)` is a key.
    assert_eq!(
        format!(
            "{:?}",
            SyncCancel::user_data(9)
                .and_user_data(5)
                .and_op::<Read<'_>>()
                .and_fd(fd)
        ),
        first
    );
    assert_ne!(
        format!("{:?}", SyncCancel::user_data(0).and_fd(fd)),
        format!("{:?}", SyncCancel::fd(fd))
    );
}
