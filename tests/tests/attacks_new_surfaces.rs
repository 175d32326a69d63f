//! Attacks on `ScopeCqe::take_fd` (with the closing of the descriptors a
//! scope's unread completions carry) and on `Read::then_write` /
//! `ReadFixed::then_write`.
//!
//! Each test drives the library with safe code only (unsafe appears only to
//! set up, such as an op pushed outside a scope that stands for someone
//! else's, or a registered buffer, and to close, after the checks, a
//! descriptor the program was handed untaken; each with a `// SAFETY:`
//! comment) and asserts the safe outcome:
//! - descriptors: every descriptor the kernel made for a scope's op is
//!   either taken by the program once or closed by the scope once, never
//!   both; no descriptor the program owns (or holds open under a number
//!   the scope once saw) is closed; the tests that count descriptors run in
//!   a process of their own, where `/proc/self/fd` is quiet, and compare the
//!   whole table;
//! - pairs: the write never runs before its read has filled the whole
//!   buffer, never writes bytes but the read's buffer, and a read that is
//!   short, fails or is cancelled leaves the destination as it was.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{ErrorKind, IoSliceMut, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::ops::{
    Accept, Fsync, Nop, OpenAt, Read, ReadFixed, SendZc, Socket, ThenWrite, Write, WriteFixed,
};
use uring::{
    AcceptFlags, Builder, Cqe, Cqe16, Cqe32, DirectSlot, Either, Fd, Link, Linked, Ring, Scope,
    Sqe64, Sqe128, SqeFlags, SqeSize, UniformCqe, sys,
};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{
    PATIENCE, complete_nops, expect_stop, fd_is_open, in_own_process, pattern, require_kernel,
    require_op, skip, stop,
};

// ---------------------------------------------------------------------
// Descriptors: helpers
// ---------------------------------------------------------------------

/// Runs `body` as test `name` in a process of its own, where nothing else
/// opens or closes descriptors meanwhile.
fn alone(name: &str, body: impl FnOnce()) {
    in_own_process(name, "a scope that never ended", body);
}

/// The descriptors open in this process.
fn open_fds() -> BTreeSet<RawFd> {
    let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    // The listing's own descriptor is listed too; it is closed by now.
    listed.into_iter().filter(|&fd| fd_is_open(fd)).collect()
}

/// `before` with `more` added: the table a test expects.
fn with(before: &BTreeSet<RawFd>, more: impl IntoIterator<Item = RawFd>) -> BTreeSet<RawFd> {
    let mut all = before.clone();
    for fd in more {
        assert!(all.insert(fd), "{fd} counted twice");
    }
    all
}

/// A file the test owns under a number it notes, with the identity of the
/// file behind it: if anything closed the number, the file is gone from
/// the table (or another one stands there).
struct Trap {
    file: File,
    id: (u64, u64),
}

impl Trap {
    /// A new temporary file (an inode of its own).
    fn new() -> Trap {
        let file = tempfile::tempfile().unwrap();
        let meta = file.metadata().unwrap();
        Trap {
            id: (meta.dev(), meta.ino()),
            file,
        }
    }

    /// The number the test holds the file under.
    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Asserts that the number still names this very file.
    fn assert_held(&self, what: &str) {
        let meta = self
            .file
            .metadata()
            .unwrap_or_else(|e| panic!("{what}: descriptor {} was closed: {e}", self.fd()));
        assert_eq!(
            (meta.dev(), meta.ino()),
            self.id,
            "{what}: descriptor {} names another file",
            self.fd()
        );
    }
}

/// Opens temporary files until one gets number `fd` (which the caller just
/// closed), so that a second close of that number would close a file the
/// test holds. All the files opened on the way are traps too.
fn traps_until(fd: RawFd) -> Vec<Trap> {
    let mut traps = Vec::new();
    for _ in 0..64 {
        let trap = Trap::new();
        let got = trap.fd();
        traps.push(trap);
        if got >= fd {
            break;
        }
    }
    assert!(
        traps.iter().any(|t| t.fd() == fd),
        "descriptor {fd} was not free again after its close"
    );
    traps
}

/// The numbers of `fds`.
fn numbers<'a>(fds: impl IntoIterator<Item = &'a OwnedFd>) -> Vec<RawFd> {
    fds.into_iter().map(AsRawFd::as_raw_fd).collect()
}

/// Two rings of 8 SQEs (16 CQEs), named: a fresh one, whose scopes leave
/// plain ops untagged (on kernels that let them, 6.3), and one whose scopes
/// tag every op (an op was pushed outside a scope).
fn rings_of_both_kinds() -> [(Ring, &'static str); 2] {
    let fast = Ring::new(8).unwrap();
    let mut tagging = Ring::new(8).unwrap();
    tagging.push(Nop::new().user_data(1000)).unwrap();
    tagging.submit_and_wait(1).unwrap();
    assert_eq!(tagging.completions().count(), 1);
    [
        (fast, "a fresh ring"),
        (tagging, "a ring that tags every op"),
    ]
}

/// An open of `/dev/null` carrying `user_data`.
fn open_null(user_data: u64) -> OpenAt<'static> {
    OpenAt::new(Fd::CWD, c"/dev/null")
        .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
        .user_data(user_data)
}

/// The plain completion of a scope's.
fn plain<C: UniformCqe>(cqe: &uring::ScopeCqe<'_, C>) -> Cqe {
    *cqe.cqe().as_ref()
}

/// Submits and waits until `n` completions are ready in the scope's ring
/// (counting any left there before), reading none.
fn wait_ready<S: SqeSize, C: UniformCqe>(s: &mut Scope<'_, '_, S, C>, n: u32) {
    s.submit().unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while s.ready() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} completions after {PATIENCE:?}",
            s.ready()
        );
        // An SQE the kernel fails at submission stops the batch there:
        // the rest go in with the next submit.
        s.submit().unwrap();
        let _ = s.wait_timeout(n, Duration::from_millis(20));
    }
}

/// Waits for the scope's next completion, takes its descriptor, and
/// returns both (the completion as a plain `Cqe`).
fn next_taken<S: SqeSize, C: UniformCqe>(s: &mut Scope<'_, '_, S, C>) -> (Cqe, Option<OwnedFd>) {
    s.submit().unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(mut cqe) = s.completions().next() {
            let fd = cqe.take_fd();
            assert!(cqe.take_fd().is_none(), "taken twice: {:?}", plain(&cqe));
            if let Some(fd) = &fd {
                assert_eq!(fd.as_raw_fd(), plain(&cqe).res());
            }
            return (plain(&cqe), fd);
        }
        assert!(std::time::Instant::now() < deadline, "no completion");
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
    }
}

/// Reads a byte from each client: one whose server end the test holds
/// (`servers`) gets the byte written there; every other one must see the
/// end of its stream (its server end closed) or a reset (a connection the
/// listener never handed out, reset when the listener closed). A client
/// left waiting would be one whose server end is still open somewhere.
fn check_clients(clients: &[TcpStream], servers: Vec<TcpStream>, what: &str) {
    let ours: Vec<SocketAddr> = servers.iter().map(|s| s.peer_addr().unwrap()).collect();
    for mut server in servers {
        server.write_all(b"k").unwrap();
    }
    for client in clients {
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut byte = [0u8; 1];
        let got = (&*client).read(&mut byte);
        if ours.contains(&client.local_addr().unwrap()) {
            assert_eq!((got.unwrap(), byte), (1, *b"k"), "{what}");
        } else {
            match got {
                Ok(n) => assert_eq!(n, 0, "{what}: bytes from a server end"),
                Err(e) => assert_eq!(
                    e.kind(),
                    ErrorKind::ConnectionReset,
                    "{what}: a server end is still open: {e}"
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------
// Descriptors: iterators and folds that stop half-way
// ---------------------------------------------------------------------

/// An iterator of a scope's completions forgotten half-way: the program
/// took the descriptor of the first completion (kept), took and closed
/// that of the second (its number then reopened by files the test holds),
/// dropped the third without taking it; a new iterator then reads the
/// fourth (the one after the forgotten iterator's last, not one of its)
/// and drops it untaken; the scope ends with two never read. The scope
/// closes exactly those two: the kept descriptor and the files under the
/// reused number stay, the untaken ones stay open (dropping a completion
/// closes nothing), and nothing else changes in the process's table. No
/// completion comes out again after the scope.
#[test]
fn a_forgotten_iterator_leaves_the_scope_only_what_it_never_handed_out() {
    alone(
        "a_forgotten_iterator_leaves_the_scope_only_what_it_never_handed_out",
        || {
            for (mut ring, kind) in rings_of_both_kinds() {
                let before = open_fds();
                let (kept, traps, untaken) = ring.scope(|s| {
                    for i in 0..6 {
                        s.push(open_null(i)).unwrap();
                    }
                    wait_ready(s, 6);
                    let mut it = s.completions();
                    let mut first = it.next().unwrap();
                    let kept = first.take_fd().expect("the first open's descriptor");
                    let mut second = it.next().unwrap();
                    let closed = second.take_fd().expect("the second open's descriptor");
                    let number = closed.as_raw_fd();
                    drop(closed);
                    let traps = traps_until(number);
                    let third = it.next().unwrap();
                    let untaken = third.res();
                    assert!(untaken >= 0, "{kind}: {third:?}");
                    drop(third);
                    std::mem::forget(it);
                    // The next reader starts after the forgotten one (and
                    // drops the completion it reads untaken).
                    let rest: Vec<(u64, i32)> = s
                        .completions()
                        .take(1)
                        .map(|c| (c.user_data(), c.res()))
                        .collect();
                    assert_eq!(rest[0].0, 3, "{kind}");
                    (kept, traps, [untaken, rest[0].1])
                });
                for trap in &traps {
                    trap.assert_held(kind);
                }
                let want = with(
                    &before,
                    numbers([&kept])
                        .into_iter()
                        .chain(traps.iter().map(Trap::fd))
                        .chain(untaken),
                );
                assert_eq!(open_fds(), want, "{kind}");
                assert_eq!(
                    ring.completions().count(),
                    0,
                    "{kind}: a completion came again"
                );
                ring.push(Nop::new().user_data(9)).unwrap();
                ring.submit_and_wait(1).unwrap();
                let after: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
                assert_eq!(after, [9], "{kind}");
                for fd in untaken {
                    // SAFETY: the descriptor of an open whose completion was
                    // dropped without taking it: the table above shows it
                    // still open, owned by no one else.
                    drop(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        },
    );
}

/// `try_for_each` that stops early (`Err` after two completions, both
/// taken) and a `for` loop that breaks: the completions not reached stay
/// for the next reader, each handed out once, and those never read are
/// closed by the scope's end. The table afterwards holds exactly what the
/// program took.
#[test]
fn an_early_stop_leaves_the_rest_once() {
    alone("an_early_stop_leaves_the_rest_once", || {
        for (mut ring, kind) in rings_of_both_kinds() {
            let before = open_fds();
            let taken = ring.scope(|s| {
                for i in 0..5 {
                    s.push(open_null(i)).unwrap();
                }
                wait_ready(s, 5);
                let mut taken = Vec::new();
                let stopped = s.completions().try_for_each(|mut c| {
                    taken.push((c.user_data(), c.take_fd().unwrap()));
                    if taken.len() == 2 { Err(()) } else { Ok(()) }
                });
                assert_eq!(stopped, Err(()), "{kind}");
                // A `for` loop that breaks after the first.
                for mut c in s.completions() {
                    taken.push((c.user_data(), c.take_fd().unwrap()));
                    if taken.len() == 3 {
                        break;
                    }
                }
                taken
            });
            let seen: Vec<u64> = taken.iter().map(|t| t.0).collect();
            assert_eq!(seen, [0, 1, 2], "{kind}: handed out twice or skipped");
            let want = with(&before, numbers(taken.iter().map(|t| &t.1)));
            assert_eq!(open_fds(), want, "{kind}");
        }
    });
}

/// What one `fold_that_panics` run left.
struct FoldOutcome {
    kept: Vec<OwnedFd>,
    traps: Vec<Trap>,
    leaked: Vec<RawFd>,
}

/// Runs a scope on `ring` whose `for_each` over six completed opens
/// unwinds from its closure at the fifth completion, right after taking
/// its descriptor (kept by the test). On the way: the first two taken and
/// kept, the third taken and closed (its number then reopened by trap
/// files), the fourth dropped untaken (it stays open). With `wrap`, the
/// CQ's head is first moved 12 completions on, so that the six wrap around
/// the end of its 16 entries: the fold walks two runs, and unwinds in the
/// second.
fn fold_that_panics<C: UniformCqe>(ring: &mut Ring<Sqe64, C>, wrap: bool) -> FoldOutcome {
    if wrap {
        assert_eq!(ring.cq_entries(), 16);
        ring.scope(|s| {
            for batch in 0..2 {
                for i in 0..6 {
                    s.push(Nop::new().user_data(500 + 6 * batch + i)).unwrap();
                }
                wait_ready(s, 6);
                assert_eq!(s.completions().count(), 6);
            }
        });
    }
    let mut out = FoldOutcome {
        kept: Vec::new(),
        traps: Vec::new(),
        leaked: Vec::new(),
    };
    expect_stop(|| {
        ring.scope(|s| {
            for i in 0..6 {
                s.push(open_null(i)).unwrap();
            }
            wait_ready(s, 6);
            let mut seen = 0;
            s.completions().for_each(|mut c| {
                seen += 1;
                match seen {
                    1 | 2 => out.kept.push(c.take_fd().unwrap()),
                    3 => {
                        let fd = c.take_fd().unwrap();
                        let number = fd.as_raw_fd();
                        drop(fd);
                        out.traps = traps_until(number);
                    }
                    4 => out.leaked.push(plain(&c).res()),
                    _ => {
                        out.kept.push(c.take_fd().unwrap());
                        stop();
                    }
                }
            });
        });
    });
    out
}

/// Checks what [`fold_that_panics`] left: the kept descriptors and the
/// traps open, the untaken one open (closed here), the sixth closed by the
/// scope, nothing else changed; no completion left in the ring.
fn check_fold<C: UniformCqe>(
    ring: &mut Ring<Sqe64, C>,
    before: &BTreeSet<RawFd>,
    out: FoldOutcome,
    what: &str,
) {
    assert_eq!(out.kept.len(), 3, "{what}");
    for trap in &out.traps {
        trap.assert_held(what);
    }
    let want = with(
        before,
        numbers(&out.kept)
            .into_iter()
            .chain(out.traps.iter().map(Trap::fd))
            .chain(out.leaked.iter().copied()),
    );
    assert_eq!(open_fds(), want, "{what}");
    assert_eq!(
        ring.completions().count(),
        0,
        "{what}: a completion came again"
    );
    for fd in out.leaked {
        // SAFETY: the fourth open's descriptor, whose completion was
        // dropped untaken: still open (checked above), owned by no one.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// A `for_each` whose closure unwinds right after taking a descriptor:
/// the scope closes only the completion the walk never reached, not the
/// ones it handed out (taken and kept, taken and closed, dropped untaken),
/// on rings of 16- and 32-byte CQEs, with the six completions in one run
/// of the CQ or wrapping around its end (the unwind in the second run).
#[test]
fn a_fold_that_unwinds_after_take_fd_closes_only_what_it_never_reached() {
    alone(
        "a_fold_that_unwinds_after_take_fd_closes_only_what_it_never_reached",
        || {
            for wrap in [false, true] {
                for (mut ring, kind) in rings_of_both_kinds() {
                    let before = open_fds();
                    let out = fold_that_panics(&mut ring, wrap);
                    check_fold(&mut ring, &before, out, &format!("{kind}, wrap {wrap}"));
                }
                let mut big = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
                let before = open_fds();
                let out = fold_that_panics(&mut big, wrap);
                check_fold(
                    &mut big,
                    &before,
                    out,
                    &format!("32-byte CQEs, wrap {wrap}"),
                );
            }
        },
    );
}

/// A fold over a single completion (the walk's path for one) that unwinds
/// after taking its descriptor: the descriptor is the program's alone.
#[test]
fn a_fold_over_one_completion_that_unwinds_keeps_the_taken_descriptor() {
    alone(
        "a_fold_over_one_completion_that_unwinds_keeps_the_taken_descriptor",
        || {
            for (mut ring, kind) in rings_of_both_kinds() {
                let before = open_fds();
                let mut kept = None;
                expect_stop(|| {
                    ring.scope(|s| {
                        s.push(open_null(1)).unwrap();
                        wait_ready(s, 1);
                        s.completions().for_each(|mut c| {
                            if c.is_scope_op() {
                                kept = c.take_fd();
                                stop();
                            }
                        });
                    });
                });
                let kept = kept.expect("a descriptor");
                assert_eq!(open_fds(), with(&before, [kept.as_raw_fd()]), "{kind}");
            }
        },
    );
}

/// `split()`: completions read (and their descriptors taken) while opens
/// are pushed in answer, the completions' half forgotten after two, the
/// queue's half dropped; then the new opens complete and one of them is
/// read. The scope ends with the rest unread and closes exactly those.
#[test]
fn split_halves_forgotten_or_dropped_hand_out_each_descriptor_once() {
    alone(
        "split_halves_forgotten_or_dropped_hand_out_each_descriptor_once",
        || {
            for (mut ring, kind) in rings_of_both_kinds() {
                let before = open_fds();
                let kept = ring.scope(|s| {
                    for i in 0..3 {
                        s.push(open_null(i)).unwrap();
                    }
                    wait_ready(s, 3);
                    let mut kept = Vec::new();
                    {
                        let (mut sq, mut completions) = s.split();
                        for n in 0..2 {
                            let mut c = completions.next().unwrap();
                            kept.push(c.take_fd().unwrap());
                            sq.push(open_null(10 + n)).unwrap();
                        }
                        std::mem::forget(completions);
                        drop(sq);
                    }
                    // One old completion and two new ones.
                    wait_ready(s, 3);
                    let (cqe, fd) = next_taken(s);
                    assert_eq!(cqe.user_data(), 2, "{kind}: not the next one");
                    kept.push(fd.unwrap());
                    let (cqe, fd) = next_taken(s);
                    assert!((10..12).contains(&cqe.user_data()), "{kind}: {cqe:?}");
                    kept.push(fd.unwrap());
                    kept
                });
                assert_eq!(open_fds(), with(&before, numbers(&kept)), "{kind}");
            }
        },
    );
}

// ---------------------------------------------------------------------
// Descriptors: rings of every kind, full CQs, copies, resizes
// ---------------------------------------------------------------------

/// A scope on `ring` with a multishot accept (three connections) and four
/// opens: three completions read and their descriptors taken, the other
/// four left in the CQ when the closure returns. Afterwards the table is
/// what it was plus the taken descriptors and the clients; each client
/// whose server end was taken talks to it, every other sees its end.
fn unread_are_closed<C: UniformCqe>(ring: &mut Ring<Sqe64, C>, what: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let before = open_fds();
    let (taken, clients) = ring.scope(|s| {
        s.push(
            Accept::new(&listener)
                .iou_flags(AcceptFlags::MULTISHOT)
                .accept_flags(libc::SOCK_CLOEXEC)
                .user_data(100),
        )
        .unwrap();
        for i in 0..4 {
            s.push(open_null(i)).unwrap();
        }
        s.submit().unwrap();
        let clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut taken = Vec::new();
        for _ in 0..3 {
            let (cqe, fd) = next_taken(s);
            assert!(cqe.res() >= 0, "{what}: {cqe:?}");
            taken.push((cqe.user_data(), fd.expect("a descriptor")));
        }
        // The other four are in the CQ, unread.
        wait_ready(s, 4);
        (taken, clients)
    });
    let want = with(
        &before,
        numbers(taken.iter().map(|t| &t.1))
            .into_iter()
            .chain(clients.iter().map(AsRawFd::as_raw_fd)),
    );
    assert_eq!(open_fds(), want, "{what}");
    assert_eq!(ring.completions().count(), 0, "{what}");
    let servers: Vec<TcpStream> = taken
        .into_iter()
        .filter(|t| t.0 == 100)
        .map(|t| TcpStream::from(t.1))
        .collect();
    drop(listener);
    check_clients(&clients, servers, what);
}

/// The descriptors of unread completions are closed exactly once at the
/// scope's end, and the taken ones never, on every kind of ring: a fresh
/// one, one whose scopes tag every op, an SQ thread's, one with deferred
/// task work, one of 32-byte CQEs, and one resized before the scope.
#[test]
fn unread_descriptors_are_closed_once_on_every_kind_of_ring() {
    alone(
        "unread_descriptors_are_closed_once_on_every_kind_of_ring",
        || {
            if !require_kernel(5, 19, "multishot accept") {
                return;
            }
            for (mut ring, kind) in rings_of_both_kinds() {
                unread_are_closed(&mut ring, kind);
            }
            if let Some(mut ring) = uring_tests::sqpoll_ring(8) {
                unread_are_closed(&mut ring, "an SQ thread's ring");
            }
            if let Some(mut ring) = uring_tests::defer_ring(8) {
                unread_are_closed(&mut ring, "a ring with deferred task work");
            }
            let mut big = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
            unread_are_closed(&mut big, "a ring of 32-byte CQEs");
            if let Some(mut ring) = uring_tests::resizable_ring(4) {
                ring.resize(16, 64).unwrap();
                unread_are_closed(&mut ring, "a resized ring");
            }
        },
    );
}

/// A scope that ends with its opens' completions in the kernel's overflow
/// list, behind a CQ full of eight NOP completions posted before it: the
/// scope sets the NOPs aside, closes the three descriptors, and the NOPs
/// come out afterwards, once each and in order. A second scope on the same
/// ring (now reading the copy) reads the NOPs (passed through, no
/// descriptor), takes one open's descriptor and forgets the iterator it
/// took it from, leaving two opens unread: the table holds the taken one
/// alone, and nothing comes out again. Then a multishot accept on a ring
/// whose CQ is full: every connection it took is closed.
#[test]
fn a_full_cq_at_the_scope_end_closes_the_overflowed_descriptors_once() {
    alone(
        "a_full_cq_at_the_scope_end_closes_the_overflowed_descriptors_once",
        || {
            let mut ring = Ring::new(4).unwrap();
            assert_eq!(ring.cq_entries(), 8);
            complete_nops(&mut ring, 100, 8);
            ring.submit_and_wait(8).unwrap();
            assert_eq!(ring.ready(), 8);
            let before = open_fds();
            ring.scope(|s| {
                for i in 0..3 {
                    s.push(open_null(i)).unwrap();
                }
                s.submit().unwrap();
            });
            assert_eq!(open_fds(), before, "an overflowed descriptor left open");
            assert_eq!(ring.ready(), 8, "the NOPs stay");

            // The ring now reads a copy of its CQ.
            let kept = ring.scope(|s| {
                for i in 0..3 {
                    s.push(open_null(10 + i)).unwrap();
                }
                wait_ready(s, 11);
                let mut it = s.completions();
                let mut kept = None;
                let mut nops = Vec::new();
                for mut c in it.by_ref() {
                    if c.is_scope_op() {
                        kept = c.take_fd();
                        break;
                    }
                    // The NOPs pass through untouched, first in line.
                    nops.push(c.user_data());
                    assert!(c.take_fd().is_none());
                }
                std::mem::forget(it);
                assert_eq!(nops, (100..108).collect::<Vec<u64>>());
                kept.expect("an open's descriptor")
            });
            assert_eq!(open_fds(), with(&before, [kept.as_raw_fd()]));
            assert_eq!(ring.completions().count(), 0, "a completion came again");
            drop(kept);

            // A multishot accept whose connections come while the CQ is
            // full: the kernel ends it (its last completion, in the
            // overflow list, may carry a connection), or the scope's end
            // cancels it. Every connection it took is closed, once.
            if !require_kernel(5, 19, "multishot accept") {
                return;
            }
            let mut ring = Ring::new(4).unwrap();
            complete_nops(&mut ring, 200, 8);
            ring.submit_and_wait(8).unwrap();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let before = open_fds();
            let clients = ring.scope(|s| {
                s.push(
                    Accept::new(&listener)
                        .iou_flags(AcceptFlags::MULTISHOT)
                        .user_data(1),
                )
                .unwrap();
                s.submit().unwrap();
                let clients: Vec<TcpStream> =
                    (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
                // Time for the kernel to accept them (not needed for what
                // is checked, which holds whatever it took).
                std::thread::sleep(Duration::from_millis(20));
                let _ = s.submit_and_get_events();
                clients
            });
            let want = with(&before, clients.iter().map(AsRawFd::as_raw_fd));
            assert_eq!(open_fds(), want, "an accepted connection left open");
            let left: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(left, (200..208).collect::<Vec<u64>>());
            drop(listener);
            check_clients(&clients, Vec::new(), "a multishot accept over a full CQ");
        },
    );
}

/// A ring reading a copy of its CQ (a scope's end set eight NOP
/// completions aside): a scope with a multishot accept and opens, all
/// left unread; the scope closes every descriptor they carry, the NOPs
/// come out afterwards in order, and nothing else.
#[test]
fn a_ring_reading_a_copy_closes_unread_descriptors_once() {
    alone(
        "a_ring_reading_a_copy_closes_unread_descriptors_once",
        || {
            if !require_kernel(5, 19, "multishot accept") {
                return;
            }
            let mut ring = uring_tests::ring_reading_a_copy();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let before = open_fds();
            let clients = ring.scope(|s| {
                s.push(
                    Accept::new(&listener)
                        .iou_flags(AcceptFlags::MULTISHOT)
                        .user_data(1),
                )
                .unwrap();
                for i in 0..3 {
                    s.push(open_null(10 + i)).unwrap();
                }
                s.submit().unwrap();
                let clients: Vec<TcpStream> =
                    (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
                wait_ready(s, 8 + 5);
                clients
            });
            let want = with(&before, clients.iter().map(AsRawFd::as_raw_fd));
            assert_eq!(open_fds(), want);
            let left: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
            assert_eq!(left, (100..108).collect::<Vec<u64>>());
            drop(listener);
            check_clients(&clients, Vec::new(), "a ring reading a copy");
        },
    );
}

/// An iterator forgotten after it handed out every completion of a scope
/// leaves the kernel's view of the CQ's head behind (the scope, settled,
/// reads nothing more as it ends). A resize afterwards copies the CQ from
/// the kernel's head: no completion may come out again, and the taken
/// descriptors stay the program's alone. The same on an SQ thread's ring,
/// where the next scope's reads must not show them again either.
#[test]
fn a_resize_after_a_forgotten_iterator_shows_no_descriptor_again() {
    alone(
        "a_resize_after_a_forgotten_iterator_shows_no_descriptor_again",
        || {
            let mut rings: Vec<(Ring, &str, bool)> = Vec::new();
            if let Some(ring) = uring_tests::resizable_ring(8) {
                rings.push((ring, "a resizable ring", true));
            }
            if let Some(ring) = uring_tests::sqpoll_ring(8) {
                rings.push((ring, "an SQ thread's ring", false));
            }
            for (ring, what, ..) in rings_of_both_kinds() {
                rings.push((ring, what, false));
            }
            for (mut ring, what, resize) in rings {
                let before = open_fds();
                let kept = ring.scope(|s| {
                    for i in 0..3 {
                        s.push(open_null(i)).unwrap();
                    }
                    wait_ready(s, 3);
                    let mut it = s.completions();
                    let kept: Vec<OwnedFd> = (0..3)
                        .map(|_| it.next().unwrap().take_fd().unwrap())
                        .collect();
                    std::mem::forget(it);
                    kept
                });
                if resize {
                    ring.resize(16, 64).unwrap();
                }
                let again = ring.scope(|s| {
                    s.push(Nop::new().user_data(7)).unwrap();
                    wait_ready(s, 1);
                    s.completions()
                        .map(|mut c| (c.user_data(), c.take_fd().is_some()))
                        .collect::<Vec<_>>()
                });
                assert_eq!(again, [(7, false)], "{what}: a completion came again");
                assert_eq!(ring.completions().count(), 0, "{what}");
                assert_eq!(open_fds(), with(&before, numbers(&kept)), "{what}");
            }
        },
    );
}

// ---------------------------------------------------------------------
// Descriptors: ops of every shape
// ---------------------------------------------------------------------

/// A multishot accept cancelled by the scope's end while a thread keeps
/// connecting: the program takes three connections, then returns; the
/// scope cancels the accept while connections race in. Every connection
/// the kernel accepted is either one of the three or closed by the scope;
/// the process's table afterwards is what it was plus the three and the
/// clients, and each client sees its server end closed (or its connection
/// reset with the listener, if never accepted).
#[test]
fn a_multishot_accept_cancelled_while_connections_race_in() {
    alone(
        "a_multishot_accept_cancelled_while_connections_race_in",
        || {
            if !require_kernel(5, 19, "multishot accept") {
                return;
            }
            for (mut ring, kind) in rings_of_both_kinds() {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let before = open_fds();
                let (taken, connector) = ring.scope(|s| {
                    s.push(
                        Accept::new(&listener)
                            .iou_flags(AcceptFlags::MULTISHOT)
                            .user_data(1),
                    )
                    .unwrap();
                    s.submit().unwrap();
                    let connector = std::thread::spawn(move || {
                        (0..40)
                            .map(|_| TcpStream::connect(addr).unwrap())
                            .collect::<Vec<_>>()
                    });
                    let mut taken = Vec::new();
                    while taken.len() < 3 {
                        let (cqe, fd) = next_taken(s);
                        assert_eq!(cqe.user_data(), 1, "{kind}");
                        taken.push(TcpStream::from(fd.expect("a connection")));
                    }
                    (taken, connector)
                });
                let clients = connector.join().unwrap();
                let want = with(
                    &before,
                    taken.iter().chain(&clients).map(AsRawFd::as_raw_fd),
                );
                assert_eq!(open_fds(), want, "{kind}");
                drop(listener);
                check_clients(&clients, taken, kind);
            }
        },
    );
}

/// Direct descriptors whose slot numbers are those of descriptors the
/// program owns (the kernel picks from a range set to start at such a
/// number; a chosen slot completes with 0, standard input's number), left
/// unread when the scope ends: the scope closes none of those numbers. An
/// open, a socket and an accept, one round each.
#[test]
fn direct_slots_equal_to_owned_numbers_are_not_closed() {
    alone("direct_slots_equal_to_owned_numbers_are_not_closed", || {
        if !require_kernel(6, 0, "file allocation ranges") {
            return;
        }
        let mut ring = Ring::new(8).unwrap();
        if !require_op::<Socket<'static>>(&ring) {
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let traps: Vec<Trap> = (0..3).map(|_| Trap::new()).collect();
        let top = traps.iter().map(Trap::fd).max().unwrap();
        let mut files = ring.register_files_sparse(top as u32 + 1).unwrap();
        let stdin_open = fd_is_open(0);
        let before = open_fds();
        let mut clients = Vec::new();
        for (round, trap) in traps.iter().enumerate() {
            ring.set_file_alloc_range(&files, trap.fd() as u32, 1)
                .unwrap();
            let slot = files.get_mut(0).unwrap();
            let client = ring.scope(|s| {
                let mut client = None;
                match round {
                    0 => {
                        // (No `O_CLOEXEC`: a direct descriptor has no flags.)
                        let null = OpenAt::new(Fd::CWD, c"/dev/null").open_flags(libc::O_RDONLY);
                        s.push(null.user_data(1).direct(DirectSlot::ALLOC)).unwrap();
                        let null = OpenAt::new(Fd::CWD, c"/dev/null").open_flags(libc::O_RDONLY);
                        s.push(null.user_data(2).direct(DirectSlot::at(slot)))
                            .unwrap();
                    }
                    1 => {
                        s.push(
                            Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
                                .direct(DirectSlot::ALLOC)
                                .user_data(1),
                        )
                        .unwrap();
                    }
                    _ => {
                        s.push(
                            Accept::new(&listener)
                                .direct(DirectSlot::ALLOC)
                                .user_data(1),
                        )
                        .unwrap();
                        s.submit().unwrap();
                        client = Some(TcpStream::connect(addr).unwrap());
                    }
                }
                wait_ready(s, if round == 0 { 2 } else { 1 });
                // Read in a second scope below: here they stay unread.
                client
            });
            clients.extend(client);
            for t in &traps {
                t.assert_held(&format!("round {round}"));
            }
            assert_eq!(fd_is_open(0), stdin_open, "round {round}: standard input");
            let want = with(&before, clients.iter().map(AsRawFd::as_raw_fd));
            assert_eq!(open_fds(), want, "round {round}");
            // The kernel did put the new file in slot `trap.fd()`: `/dev/null`
            // reads nothing, an unconnected UDP socket wants an address, the
            // accepted connection carries a byte to its client.
            let fixed = files.get(trap.fd() as u32).unwrap();
            let mut byte = [0u8; 1];
            let res = ring.scope(|s| {
                if round == 0 {
                    s.push(Read::new(fixed, &mut byte[..]).user_data(5))
                        .unwrap();
                } else {
                    s.push(Write::new(fixed, b"x").user_data(5)).unwrap();
                }
                next_taken(s).0.res()
            });
            let want = [0, -libc::EDESTADDRREQ, 1][round];
            assert_eq!(res, want, "round {round}: slot {}", trap.fd());
        }
        let client = clients.last().unwrap();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut byte = [0u8; 1];
        (&*client).read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"x");
        drop(clients);
        ring.unregister_files(files).unwrap();
        for t in &traps {
            t.assert_held("after unregistering");
        }
    });
}

/// The completions a scope settles for ops it rewrote or that never made a
/// descriptor, read and left unread:
/// - an open, and an accept with a connection waiting, soft-linked after a
///   failed open: cancelled, no descriptor;
/// - an open hard-linked after a failed open: runs, gives one;
/// - an open flagged `IO_DRAIN` after a zero-copy send of its chain: the
///   scope refuses it (a NOP failing with `EINVAL`), no descriptor;
/// - an open flagged `IO_DRAIN` before a zero-copy send: the send is
///   refused, the open runs and gives one;
/// - an open flagged `CQE_SKIP_SUCCESS`: its completion comes anyway, with
///   its descriptor.
///
/// Read, each gives exactly what the kernel made; unread (in a scope on a
/// fresh ring that returns at once), the table afterwards is unchanged.
#[test]
fn rewritten_cancelled_and_skipped_opens() {
    alone("rewritten_cancelled_and_skipped_opens", || {
        let zero_copy = require_kernel(6, 0, "zero-copy sends")
            && require_op::<SendZc<'static>>(&Ring::new(2).unwrap());
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        // A connection waits: an accept that ran would take it.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        for (mut ring, kind) in rings_of_both_kinds() {
            let before = open_fds();
            let got = ring.scope(|s| {
                push_rewritten(s, &tx, &listener, zero_copy);
                let mut got = Vec::new();
                while s.in_flight() > 0 {
                    got.push(next_taken(s));
                }
                got
            });
            let mut results: Vec<(u64, i32, bool)> = got
                .iter()
                .filter(|(c, _)| c.flags() & sys::IORING_CQE_F_NOTIF == 0)
                .map(|(c, fd)| (c.user_data(), c.res(), fd.is_some()))
                .collect();
            results.sort();
            let mut want = vec![
                (1, -libc::ENOENT, false),
                (2, -libc::ECANCELED, false),
                (3, -libc::ENOENT, false),
                (4, 0, true),
                (5, 0, true),
                (10, -libc::ENOENT, false),
                (11, -libc::ECANCELED, false),
            ];
            if zero_copy {
                want.extend([
                    (6, 2, false),
                    (7, -libc::EINVAL, false),
                    (8, 0, true),
                    (9, -libc::EINVAL, false),
                ]);
            }
            want.sort();
            // Descriptors' numbers vary: compare them as "made one".
            for r in &mut results {
                if r.2 {
                    assert!(r.1 >= 0, "{kind}: {r:?}");
                    r.1 = 0;
                }
            }
            assert_eq!(results, want, "{kind}");
            let kept: Vec<&OwnedFd> = got.iter().filter_map(|g| g.1.as_ref()).collect();
            assert_eq!(open_fds(), with(&before, numbers(kept)), "{kind}");
        }
        for (mut ring, kind) in rings_of_both_kinds() {
            let before = open_fds();
            ring.scope(|s| {
                push_rewritten(s, &tx, &listener, zero_copy);
                s.submit().unwrap();
            });
            assert_eq!(open_fds(), before, "{kind}: unread");
        }
    });
}

/// Pushes the ops of [`rewritten_cancelled_and_skipped_opens`]; the
/// zero-copy sends go to `tx`.
fn push_rewritten<'s>(
    s: &mut Scope<'s, '_>,
    tx: &'s UdpSocket,
    listener: &'s TcpListener,
    zero_copy: bool,
) {
    let missing = c"/nonexistent/uring-attack";
    s.push(
        OpenAt::new(Fd::CWD, missing)
            .user_data(1)
            .link(open_null(2)),
    )
    .unwrap();
    s.push(
        OpenAt::new(Fd::CWD, missing)
            .user_data(10)
            .link(Accept::new(listener).user_data(11)),
    )
    .unwrap();
    s.submit().unwrap();
    s.push(
        OpenAt::new(Fd::CWD, missing)
            .user_data(3)
            .hard_link(open_null(4)),
    )
    .unwrap();
    s.push(open_null(5).flags(SqeFlags::CQE_SKIP_SUCCESS))
        .unwrap();
    s.submit().unwrap();
    if zero_copy {
        s.push(
            SendZc::new(tx, b"zc")
                .user_data(6)
                .link(open_null(7).flags(SqeFlags::IO_DRAIN)),
        )
        .unwrap();
        s.push(
            open_null(8)
                .flags(SqeFlags::IO_DRAIN)
                .link(SendZc::new(tx, b"zc").user_data(9)),
        )
        .unwrap();
    }
}

/// Completions that are not the scope's own stay the program's: an open
/// pushed outside the scope (standing for someone else's op) completes
/// before it and is left in the CQ, and an accept pushed outside the scope
/// (on a listener of its own) completes during it, while the scope's own
/// open and multishot accept are left unread. The scope closes its own
/// descriptors only; the other two completions come out afterwards, in
/// order, with their descriptors open.
#[test]
fn foreign_descriptors_left_in_the_cq_are_not_closed() {
    alone("foreign_descriptors_left_in_the_cq_are_not_closed", || {
        if !require_kernel(5, 19, "multishot accept") {
            return;
        }
        let mut ring = Ring::new(8).unwrap();
        let foreign_listener: &'static TcpListener =
            Box::leak(Box::new(TcpListener::bind("127.0.0.1:0").unwrap()));
        let foreign_addr = foreign_listener.local_addr().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let before = open_fds();
        // SAFETY: the open borrows only `'static` data (its path, the
        // current directory's marker).
        unsafe { ring.push_unchecked(open_null(70)) }.unwrap();
        ring.submit_and_wait(1).unwrap();
        // SAFETY: the accept borrows a leaked listener, which lives for
        // ever, and writes no address.
        unsafe { ring.push_unchecked(Accept::new(foreign_listener).user_data(71)) }.unwrap();
        ring.submit().unwrap();
        let clients = ring.scope(|s| {
            assert!(s.tags_every_op());
            s.push(open_null(1)).unwrap();
            s.push(
                Accept::new(&listener)
                    .iou_flags(AcceptFlags::MULTISHOT)
                    .user_data(2),
            )
            .unwrap();
            s.submit().unwrap();
            let mut clients = vec![TcpStream::connect(foreign_addr).unwrap()];
            clients.extend((0..2).map(|_| TcpStream::connect(addr).unwrap()));
            // The foreign open's and accept's, the scope's open's, and two
            // of the scope's accept's.
            wait_ready(s, 5);
            clients
        });
        let foreign: Vec<Cqe> = ring.completions().collect();
        let order: Vec<u64> = foreign.iter().map(|c| c.user_data()).collect();
        assert_eq!(order, [70, 71], "the foreign completions, in order");
        let fds: Vec<RawFd> = foreign.iter().map(|c| c.res()).collect();
        assert!(fds.iter().all(|&fd| fd >= 0), "{foreign:?}");
        let want = with(
            &before,
            fds.iter()
                .copied()
                .chain(clients.iter().map(AsRawFd::as_raw_fd)),
        );
        assert_eq!(open_fds(), want, "a foreign descriptor was closed");
        // SAFETY: the foreign open's and accept's descriptors, made for
        // ops pushed outside the scope, open (checked above) and owned by
        // no one: this test takes them.
        let (null, server) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        assert_eq!((&null).read(&mut [0u8; 4]).unwrap(), 0);
        drop(listener);
        check_clients(&clients, vec![TcpStream::from(server)], "foreign accept");
    });
}

// ---------------------------------------------------------------------
// Pairs: helpers
// ---------------------------------------------------------------------

/// The bytes each pair moves.
const CHUNK: usize = 4096;

/// The byte a destination is filled with before a pair that must not
/// write it.
const UNTOUCHED: u8 = 0x5A;

/// The byte a read's buffer holds before the read.
const BEFORE: u8 = 0xEE;

/// A temporary file holding `bytes`.
fn file_with(bytes: &[u8]) -> File {
    let file = tempfile::tempfile().unwrap();
    file.write_all_at(bytes, 0).unwrap();
    file
}

/// The whole file.
fn contents(file: &File) -> Vec<u8> {
    let len = file.metadata().unwrap().len() as usize;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

/// Asserts that `file` holds `CHUNK * 2` bytes of [`UNTOUCHED`].
fn assert_untouched(file: &File, what: &str) {
    let bytes = contents(file);
    assert_eq!(bytes.len(), 2 * CHUNK, "{what}: the destination's length");
    assert!(
        bytes.iter().all(|&b| b == UNTOUCHED),
        "{what}: the destination was written"
    );
}

/// Submits and reaps until nothing of the scope is in flight:
/// `(user_data, res)` sorted.
fn reap_all<S: SqeSize>(s: &mut Scope<'_, '_, S, Cqe16>) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        s.submit().unwrap();
        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        if s.in_flight() == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "in flight: {got:?}");
        let _ = s.wait_timeout(1, Duration::from_millis(20));
    }
    got.sort_unstable();
    got
}

/// A pipe holding `bytes` (fewer than a pair's buffer), its write end still
/// open: a read of the read end gets what is there, a short read.
fn short_pipe(bytes: &[u8]) -> (File, File) {
    let (r, w) = uring_tests::pipe();
    let (r, mut w) = (File::from(r), File::from(w));
    w.write_all(bytes).unwrap();
    (r, w)
}

/// A pair reading `src` into `buf` (`user_data` 1) and writing it to
/// `dst` at offset 64 (`user_data` 2), with the flags given.
fn flagged_pair<'a>(
    src: &'a File,
    buf: &'a mut [u8],
    dst: &'a File,
    read_flags: SqeFlags,
    write_flags: SqeFlags,
) -> Pair<'a> {
    Read::new(src, buf)
        .flags(read_flags)
        .user_data(1)
        .then_write_with(dst, |w| w.offset(64).flags(write_flags).user_data(2))
}

/// A read of a file soft-linked to a write of its buffer to a file.
type Pair<'a> = Link<Read<'a, Fd<'a>>, ThenWrite<Write<'a, Fd<'a>>>>;

/// The flags a pair's read and write are tried with.
const FLAG_SETS: [(SqeFlags, SqeFlags); 5] = [
    (SqeFlags::EMPTY, SqeFlags::EMPTY),
    (SqeFlags::ASYNC, SqeFlags::EMPTY),
    (SqeFlags::EMPTY, SqeFlags::ASYNC),
    (SqeFlags::ASYNC, SqeFlags::ASYNC),
    (SqeFlags::CQE_SKIP_SUCCESS, SqeFlags::IO_DRAIN),
];

// ---------------------------------------------------------------------
// Pairs
// ---------------------------------------------------------------------

/// A read of a pipe that holds fewer bytes than the buffer (100 of 4096)
/// is short: the write is cancelled, whatever flags either op carries,
/// however the pair is pushed (alone, in a `Linked` chain, as an `Either`,
/// through the split queue, over a buffer given to `push_owned`), and
/// whether the bytes are there before the read or come after it started.
/// The buffer holds the 100 bytes and what it held before; the
/// destination, filled beforehand, is untouched. A `push_owned` buffer
/// comes back with the write's completion, the pair's last.
#[test]
fn a_short_pipe_read_cancels_the_write_however_the_pair_is_pushed() {
    let mut ring = Ring::new(16).unwrap();
    let cancelled = -libc::ECANCELED;
    for (i, &(read_flags, write_flags)) in FLAG_SETS.iter().enumerate() {
        for how in 0..6 {
            let what = format!("flags {i}, push {how}");
            let dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
            let data = pattern(100, (i * 6 + how) as u8);
            let late = how == 5;
            let (src, mut feed) = short_pipe(if late { &[] } else { &data });
            let mut buf = vec![BEFORE; CHUNK];
            let mut back = None;
            let got = ring.scope(|s| {
                let pair = |buf| flagged_pair(&src, buf, &dst, read_flags, write_flags);
                match how {
                    0 | 5 => s.push(pair(&mut buf[..])).unwrap(),
                    1 => s
                        .push_linked(Linked::new(vec![pair(&mut buf[..])]))
                        .unwrap(),
                    2 => s
                        .push(Either::<_, Link<Nop, Nop>>::Left(pair(&mut buf[..])))
                        .unwrap(),
                    3 => {
                        let (mut sq, completions) = s.split();
                        drop(completions);
                        sq.push(pair(&mut buf[..])).unwrap();
                    }
                    _ => s
                        .push_owned(vec![BEFORE; CHUNK], |b, sq| {
                            sq.push(flagged_pair(&src, b, &dst, read_flags, write_flags))
                        })
                        .unwrap(),
                }
                if late {
                    s.submit().unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                    feed.write_all(&data).unwrap();
                }
                if how == 4 {
                    let mut got = Vec::new();
                    while got.len() < 2 {
                        s.submit().unwrap();
                        let _ = s.wait_timeout(1, PATIENCE);
                        for mut c in s.completions() {
                            let b = c.take_buf();
                            assert_eq!(b.is_some(), c.user_data() == 2, "{what}");
                            if b.is_some() {
                                back = b;
                            }
                            got.push((c.user_data(), c.res()));
                        }
                    }
                    got.sort_unstable();
                    got
                } else {
                    reap_all(s)
                }
            });
            assert_eq!(got, [(1, 100), (2, cancelled)], "{what}");
            let buf = if how == 4 {
                back.expect("the owned buffer")
            } else {
                buf
            };
            assert_kernel_bytes(&buf[..100], &data, &what);
            assert!(
                buf[100..].iter().all(|&b| b == BEFORE),
                "{what}: past the read"
            );
            assert_untouched(&dst, &what);
        }
    }
}

/// A read of a pipe whose writers are gone and that holds nothing reads 0
/// bytes: the write is cancelled. A read of 0 bytes (an empty buffer) is
/// whole at 0: the write runs, and writes nothing, to a file (whose length
/// stays, even at an offset past its end) and to a pipe (which stays
/// empty).
#[test]
fn end_of_stream_and_empty_buffers() {
    let mut ring = Ring::new(8).unwrap();
    let dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
    let (src, feed) = short_pipe(&[]);
    drop(feed);
    let mut buf = vec![BEFORE; CHUNK];
    let got = ring.scope(|s| {
        s.push(
            Read::new(&src, &mut buf[..])
                .user_data(1)
                .then_write_with(&dst, |w| w.user_data(2)),
        )
        .unwrap();
        reap_all(s)
    });
    assert_eq!(got, [(1, 0), (2, -libc::ECANCELED)]);
    assert!(buf.iter().all(|&b| b == BEFORE));
    assert_untouched(&dst, "end of stream");

    let (src, _feed) = short_pipe(b"unread");
    let (out_r, out_w) = uring_tests::pipe();
    let (mut out_r, out_w) = (File::from(out_r), File::from(out_w));
    let mut empty = [0u8; 0];
    let got = ring.scope(|s| {
        s.push(
            Read::new(&src, &mut empty[..])
                .user_data(1)
                .then_write_with(&dst, |w| w.offset(1 << 20).user_data(2)),
        )
        .unwrap();
        s.push(
            Read::new(&src, &mut [][..])
                .user_data(3)
                .then_write_with(&out_w, |w| w.user_data(4)),
        )
        .unwrap();
        reap_all(s)
    });
    assert_eq!(got, [(1, 0), (2, 0), (3, 0), (4, 0)]);
    assert_untouched(&dst, "an empty buffer");
    drop(out_w);
    let mut out = Vec::new();
    out_r.read_to_end(&mut out).unwrap();
    assert!(out.is_empty(), "a pipe got {out:?}");
    let mut left = [0u8; 6];
    (&src).read_exact(&mut left).unwrap();
    assert_eq!(&left, b"unread", "an empty read took bytes");
}

/// The closure of `then_write_with` rebuilds the write from scratch: over
/// other bytes, to another file, at another offset, flagged `ASYNC` and
/// `IO_DRAIN`, with a personality-less `user_data` of its own. It still
/// writes the read's buffer, after the read: a whole read copies the
/// read's bytes (not the decoy's) to the other file; a short read (a pipe)
/// cancels it, and neither file changes.
#[test]
fn a_write_rebuilt_to_another_target_still_follows_its_read() {
    let mut ring = Ring::new(8).unwrap();
    let data = pattern(CHUNK, 3);
    let src = file_with(&data);
    let decoy = vec![0xD0u8; 3 * CHUNK];
    for short in [false, true] {
        let named = file_with(&[UNTOUCHED; 2 * CHUNK]);
        let other = file_with(&[UNTOUCHED; 2 * CHUNK]);
        let (pipe, _feed) = short_pipe(&data[..10]);
        let mut buf = vec![BEFORE; CHUNK];
        let got = ring.scope(|s| {
            let write = |_: Write<'_, Fd<'_>>| {
                Write::new(&other, &decoy[..])
                    .offset(CHUNK as u64)
                    .flags(SqeFlags::ASYNC | SqeFlags::IO_DRAIN)
                    .user_data(9)
            };
            let pair = if short {
                Read::new(&pipe, &mut buf[..])
                    .user_data(1)
                    .then_write_with(&named, write)
            } else {
                Read::new(&src, &mut buf[..])
                    .user_data(1)
                    .then_write_with(&named, write)
            };
            s.push(pair).unwrap();
            reap_all(s)
        });
        assert_untouched(&named, "the target the pair named");
        if short {
            assert_eq!(got, [(1, 10), (9, -libc::ECANCELED)]);
            assert_untouched(&other, "a short read's rebuilt write");
        } else {
            assert_eq!(got, [(1, CHUNK as i32), (9, CHUNK as i32)]);
            let copied = contents(&other);
            assert!(copied[..CHUNK].iter().all(|&b| b == UNTOUCHED));
            assert_kernel_bytes(&copied[CHUNK..], &data, "the rebuilt write");
        }
    }
}

/// A pair reading `pipe` into `buf` (`user_data` `ud`) and writing it to
/// `dst` (`user_data` `ud + 1`).
fn short_pair<'a>(pipe: &'a File, buf: &'a mut [u8], dst: &'a File, ud: u64) -> Pair<'a> {
    Read::new(pipe, buf)
        .user_data(ud)
        .then_write_with(dst, move |w| w.user_data(ud + 1))
}

/// Pairs in chains of every shape, each with a short read somewhere:
/// - `Linked::hard([pair, pair])`: the first pair's short read cancels its
///   write and everything after (a soft link failed; the hard link after
///   the write does not run the second pair);
/// - a failed open hard-linked to a pair: the pair runs, and its short
///   read still cancels its own write;
/// - a short pair hard-linked to an fsync: cancelled with the write;
/// - `Linked::new` of `Either`s mixing whole pairs, short pairs and two
///   NOPs: the chain runs up to the short read, cancels from its write on.
///
/// No destination of a cancelled write changes; whole pairs copy.
#[test]
fn pairs_in_hard_links_and_eithers_never_write_after_a_short_read() {
    let mut ring = Ring::new(32).unwrap();
    let data = pattern(CHUNK, 11);
    let src = file_with(&data);
    let cancelled = -libc::ECANCELED;
    let dsts: Vec<File> = (0..4).map(|_| file_with(&[UNTOUCHED; 2 * CHUNK])).collect();
    // A pipe of its own for each short read: a read takes all a pipe holds.
    let pipes: Vec<(File, File)> = (0..3).map(|_| short_pipe(&[7u8; 1000])).collect();
    let mut bufs = vec![[BEFORE; CHUNK]; 4];
    let [a, b, c, d] = &mut bufs[..] else {
        unreachable!()
    };
    let short = |i: usize, buf, dst, ud| short_pair(&pipes[i].0, buf, dst, ud);
    let got = ring.scope(|s| {
        s.push_linked(Linked::hard(vec![
            short(0, &mut a[..], &dsts[0], 10),
            Read::new(&src, &mut b[..])
                .user_data(12)
                .then_write_with(&dsts[1], |w| w.user_data(13)),
        ]))
        .unwrap();
        reap_all(s)
    });
    assert_eq!(
        got,
        [
            (10, 1000),
            (11, cancelled),
            (12, cancelled),
            (13, cancelled)
        ]
    );
    assert_untouched(&dsts[0], "the short pair");
    assert_untouched(&dsts[1], "the pair after its hard link");
    assert!(b.iter().all(|&x| x == BEFORE), "the second read ran");

    let got = ring.scope(|s| {
        s.push(
            OpenAt::new(Fd::CWD, c"/nonexistent/uring-attack")
                .user_data(20)
                .hard_link(short(1, &mut c[..], &dsts[2], 21)),
        )
        .unwrap();
        s.push(short(2, &mut d[..], &dsts[3], 23).hard_link(Fsync::new(&dsts[3]).user_data(25)))
            .unwrap();
        reap_all(s)
    });
    assert_eq!(
        got,
        [
            (20, -libc::ENOENT),
            (21, 1000),
            (22, cancelled),
            (23, 1000),
            (24, cancelled),
            (25, cancelled)
        ]
    );
    assert_untouched(&dsts[2], "a pair hard-linked after a failure");
    assert_untouched(&dsts[3], "a short pair before an fsync");

    let (pipe, _feed) = short_pipe(&[9u8; 100]);
    let whole_dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
    let late_dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
    let short_dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
    let mut bufs = vec![[BEFORE; CHUNK]; 3];
    let [whole, short_buf, late] = &mut bufs[..] else {
        unreachable!()
    };
    let got = ring.scope(|s| {
        s.push_linked(Linked::new(vec![
            Either::Left(
                Read::new(&src, &mut whole[..])
                    .user_data(1)
                    .then_write_with(&whole_dst, |w| w.user_data(2)),
            ),
            Either::Right(Nop::new().user_data(3).link(Nop::new().user_data(4))),
            Either::Left(
                Read::new(&pipe, &mut short_buf[..])
                    .user_data(5)
                    .then_write_with(&short_dst, |w| w.user_data(6)),
            ),
            Either::Left(
                Read::new(&src, &mut late[..])
                    .user_data(7)
                    .then_write_with(&late_dst, |w| w.user_data(8)),
            ),
        ]))
        .unwrap();
        reap_all(s)
    });
    let c4 = CHUNK as i32;
    assert_eq!(
        got,
        [
            (1, c4),
            (2, c4),
            (3, 0),
            (4, 0),
            (5, 100),
            (6, cancelled),
            (7, cancelled),
            (8, cancelled)
        ]
    );
    assert_kernel_bytes(&contents(&whole_dst)[..CHUNK], &data, "the whole pair");
    assert_untouched(&short_dst, "the short pair");
    assert_untouched(&late_dst, "the pair after it");
    assert!(late.iter().all(|&x| x == BEFORE), "the read after it ran");
}

/// A pair whose write blocks (a socket whose send buffer is full) and a
/// link timeout after it: the timeout cancels the write, which sends
/// nothing; the peer gets exactly the bytes that filled the buffer, none
/// of the read's.
#[test]
fn a_link_timeout_cancels_a_blocked_write_that_sent_nothing() {
    let mut ring = Ring::new(8).unwrap();
    let data = vec![0x77u8; CHUNK];
    let src = file_with(&data);
    let (tx, mut rx) = UnixStream::pair().unwrap();
    tx.set_nonblocking(true).unwrap();
    let fill = [0x11u8; 4096];
    let mut filled = 0usize;
    loop {
        match (&tx).write(&fill) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    tx.set_nonblocking(false).unwrap();
    let mut buf = vec![BEFORE; CHUNK];
    let got = ring.scope(|s| {
        s.push(
            Read::new(&src, &mut buf[..])
                .user_data(1)
                .then_write_with(&tx, |w| w.user_data(2))
                .timeout_with(Duration::from_millis(50), 3),
        )
        .unwrap();
        reap_all(s)
    });
    assert_eq!(
        got,
        [(1, CHUNK as i32), (2, -libc::ECANCELED), (3, -libc::ETIME)]
    );
    assert_kernel_bytes(&buf, &data, "the read");
    rx.set_nonblocking(true).unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match rx.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(received.len(), filled, "the cancelled write sent bytes");
    assert!(
        received.iter().all(|&b| b == 0x11),
        "the read's bytes were sent"
    );
}

/// `ReadFixed::then_write` over a slice the kernel refuses: outside the
/// registered buffer it names, or straddling its end: the read fails with
/// `EFAULT`, the write is cancelled, and neither the slice nor the
/// destination changes; so does an empty slice past its end (one inside
/// it reads and writes nothing). A write the closure rebuilds naming another
/// registered buffer (one that does not hold the read's slice) fails with
/// `EFAULT` after a whole read: nothing is written.
#[test]
fn read_fixed_outside_its_registered_buffer_writes_nothing() {
    let data = pattern(2 * CHUNK, 29);
    let src = file_with(&data);
    // Declared before the ring: they outlive its registrations.
    let mut region = vec![BEFORE; 2 * CHUNK];
    let mut other = vec![0u8; CHUNK];
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `region`'s first half and `other` are neither moved nor
    // resized, and outlive the ring; only the ops below touch them while
    // they are registered.
    let registered = unsafe {
        ring.register_buffers(&[
            IoSliceMut::new(&mut region[..CHUNK]),
            IoSliceMut::new(&mut other[..]),
        ])
    };
    let Ok(registered) = registered else {
        return skip("no registered buffers here");
    };
    let (first, second) = (registered.get(0).unwrap(), registered.get(1).unwrap());
    let cancelled = -libc::ECANCELED;
    for (what, range) in [
        ("past the registered buffer", CHUNK..2 * CHUNK),
        ("straddling its end", CHUNK / 2..CHUNK / 2 + CHUNK),
    ] {
        let dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
        let got = ring.scope(|s| {
            s.push(
                ReadFixed::new(&src, &mut region[range.clone()], first)
                    .user_data(1)
                    .then_write_with(&dst, |w| w.user_data(2)),
            )
            .unwrap();
            reap_all(s)
        });
        assert_eq!(got, [(1, -libc::EFAULT), (2, cancelled)], "{what}");
        assert!(
            region[range].iter().all(|&b| b == BEFORE),
            "{what}: the slice"
        );
        assert_untouched(&dst, what);
    }
    // Empty slices: outside the buffer, refused; inside it, a whole read
    // of nothing, and a write of nothing.
    let dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
    let got = ring.scope(|s| {
        let (inside, outside) = region.split_at_mut(CHUNK + 1);
        s.push(
            ReadFixed::new(&src, &mut outside[..0], first)
                .user_data(1)
                .then_write_with(&dst, |w| w.user_data(2)),
        )
        .unwrap();
        s.push(
            ReadFixed::new(&src, &mut inside[10..10], first)
                .user_data(3)
                .then_write_with(&dst, |w| w.offset(1 << 20).user_data(4)),
        )
        .unwrap();
        reap_all(s)
    });
    assert_eq!(got, [(1, -libc::EFAULT), (2, cancelled), (3, 0), (4, 0)]);
    assert_untouched(&dst, "empty slices");

    let dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
    let got = ring.scope(|s| {
        s.push(
            ReadFixed::new(&src, &mut region[..CHUNK], first)
                .user_data(1)
                .then_write_with(&dst, |_| WriteFixed::new(&dst, &[], second).user_data(2)),
        )
        .unwrap();
        reap_all(s)
    });
    assert_eq!(got, [(1, CHUNK as i32), (2, -libc::EFAULT)]);
    assert_kernel_bytes(&region[..CHUNK], &data[..CHUNK], "the read");
    assert_untouched(&dst, "a write naming another registered buffer");
}

/// On a ring of 128-byte SQEs, pairs pushed through the split queue, every
/// other one straddling the end of the SQ array, whole and short reads on
/// both sides of it: whole pairs copy, short ones cancel their write.
#[test]
fn split_pairs_in_128_byte_sqes_across_the_end_of_the_array() {
    let mut ring = match Ring::builder().build_sized::<Sqe128, Cqe16>(4) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no 128-byte SQEs: {e}")),
    };
    assert_eq!(ring.sq_entries(), 4);
    let data = pattern(CHUNK, 41);
    let src = file_with(&data);
    ring.push(Nop::new().user_data(100)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 1);
    for i in 0..6u64 {
        let dst = file_with(&[UNTOUCHED; 2 * CHUNK]);
        // Pairs 1, 3 and 5 straddle the end; 1 and 2 (and 5) are short.
        let short = matches!(i % 4, 1 | 2);
        let (pipe, _feed) = short_pipe(&data[..33]);
        let mut buf = vec![BEFORE; CHUNK];
        let got = ring.scope(|s| {
            let (mut sq, completions) = s.split();
            drop(completions);
            if short {
                sq.push(
                    Read::new(&pipe, &mut buf[..])
                        .user_data(1)
                        .then_write_with(&dst, |w| w.user_data(2)),
                )
                .unwrap();
            } else {
                sq.push(
                    Read::new(&src, &mut buf[..])
                        .user_data(1)
                        .then_write_with(&dst, |w| w.user_data(2)),
                )
                .unwrap();
            }
            drop(sq);
            reap_all(s)
        });
        if short {
            assert_eq!(got, [(1, 33), (2, -libc::ECANCELED)], "pair {i}");
            assert_untouched(&dst, &format!("pair {i}"));
        } else {
            assert_eq!(got, [(1, CHUNK as i32), (2, CHUNK as i32)], "pair {i}");
            assert_kernel_bytes(&contents(&dst)[..CHUNK], &data, &format!("pair {i}"));
        }
    }
}
