//! Attacks on how the library keeps zero-copy sends away from the kernel's
//! drain.
//!
//! Linux 6.18 never issues a zero-copy send that its drain defers (the
//! send's notification, allocated when the send is prepared, is never
//! counted as drained), no cancel reaches a deferred op, and its drain
//! stays on after the drained op completes for as long as user space
//! cannot tell. So the ring notes for good every SQE flagged `IO_DRAIN`
//! it writes, through any surface, as the SQE is left after a scope's
//! screening; a scope fails a zero-copy send that shares a chain with a
//! drain (`EINVAL`, the later of the two), hands back every zero-copy
//! send once the ring noted a drain (`PushErrorKind::AfterDrain`), and a
//! reactor fails them (`Unsupported`).
//!
//! Attacked here: every chain of up to four NOPs and sends, drained or
//! not, soft and hard, with and without a link timeout, on every kind of
//! ring, and chains of run-time length, against a model of the rule;
//! every surface that writes SQEs; what could make the ring forget a
//! drain (resizes, a scope's SQEs taken back, panics, later scopes);
//! sends pushed before the drain; what `AfterDrain` hands back; reactors;
//! `CQE_SKIP_SUCCESS`; queues too small for a chain; and what the
//! kernel's lingering drain does to ops that are not sends.
//!
//! Each test that a held op could hang runs in a process of its own,
//! killed (and failed) if it does not end in time. What the kernel did is
//! checked op by op: the completions each `user_data` got, that none came
//! for a `user_data` nobody pushed, the bytes the peer received (each send
//! that ran, once, in order), what is left in flight, in the SQ and in
//! the CQ.

use std::io::{IoSlice, Read as _, Write as _};
use std::net::TcpStream;
use std::os::fd::{AsFd as _, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use uring::op::{AcceptsLinkTimeout, ChainNext, FitsSqe, Prepare};
use uring::ops::{
    LinkTimeout, Nop, PollAdd, Read, Send, SendMsgZc, SendMsgZcFixed, SendZc, SendZcFixed, SendZcV,
    Timeout, Write,
};
use uring::sys::{IORING_CQE_F_MORE, IORING_CQE_F_NOTIF};
use uring::{
    Fd, Link, Linked, MsgHdr, PollEvents, PollFlags, PushError, PushErrorKind, Ring, Scope, Scoped,
    Sqe64, SqeFlags, Submission,
};

/// [`uring_tests::in_own_process`], for the hangs this suite looks for.
fn own_process(name: &str, body: impl FnOnce()) {
    uring_tests::in_own_process(name, "an op held by a drain", body);
}

/// What a completion said: `user_data`, `res`, `flags`.
type Seen = (u64, i32, u32);

/// A zero-copy send's completions when it ran: its bytes, then its
/// notification.
fn sent(n: usize) -> Vec<(i32, u32)> {
    vec![(n as i32, IORING_CQE_F_MORE), (0, IORING_CQE_F_NOTIF)]
}

/// The receiving end of a TCP pair, read by a thread of its own as bytes
/// come (which has the kernel acknowledge them at once, and so post each
/// zero-copy send's notification without waiting for a delayed
/// acknowledgement).
struct Peer(std::thread::JoinHandle<Vec<u8>>);

impl Peer {
    /// Reads `rx` to its end on a thread of its own, however long the
    /// sender keeps it open (no read timeout).
    fn spawn(mut rx: TcpStream) -> Peer {
        rx.set_read_timeout(None).unwrap();
        Peer(std::thread::spawn(move || {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).unwrap();
            got
        }))
    }

    /// Everything received until every copy of the sender was closed.
    fn received(self) -> Vec<u8> {
        self.0.join().unwrap()
    }
}

/// A connected TCP pair whose receiving end is read as bytes come.
fn tcp_pair() -> (TcpStream, Peer) {
    let (tx, rx) = uring_tests::tcp_pair();
    (tx, Peer::spawn(rx))
}

/// A ring of `entries` that took an op outside scopes (reaped before any
/// scope): its scopes tag every op.
fn used_ring(entries: u32) -> Ring {
    let mut ring = Ring::new(entries).unwrap();
    ring.push(Nop::new().user_data(0x07)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 1);
    ring
}

/// What [`gather`] read.
#[derive(Default, Debug)]
struct Got {
    seen: Vec<Seen>,
    /// The owned buffers handed back, with the `user_data` of the
    /// completion that brought each.
    bufs: Vec<(u64, Vec<u8>)>,
}

/// Reads the completions ready in the scope into `got`.
fn read_ready(s: &mut Scope<'_, '_>, got: &mut Got) {
    for mut c in s.completions() {
        let cqe = c.cqe();
        got.seen.push((cqe.user_data(), cqe.res(), cqe.flags()));
        if let Some(buf) = c.take_buf() {
            got.bufs.push((cqe.user_data(), buf));
        }
    }
}

/// Submits and reads completions until every `user_data` of `uds` has
/// posted its last (within ten seconds), then once more. Every completion
/// read must carry one of `uds`.
fn gather(s: &mut Scope<'_, '_>, uds: &[u64]) -> Got {
    let mut got = Got::default();
    let ended = |seen: &[Seen]| {
        uds.iter().all(|&ud| {
            seen.iter()
                .any(|c| c.0 == ud && c.2 & IORING_CQE_F_MORE == 0)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        s.submit().unwrap();
        read_ready(s, &mut got);
        if ended(&got.seen) {
            break;
        }
        let _ = s.wait_timeout(1, Duration::from_millis(10));
        read_ready(s, &mut got);
        if ended(&got.seen) {
            break;
        }
        assert!(Instant::now() < deadline, "completions missing: {got:?}");
    }
    read_ready(s, &mut got);
    for c in &got.seen {
        assert!(
            uds.contains(&c.0),
            "a completion for a user_data nobody pushed: {c:?} among {:?}",
            got.seen
        );
    }
    got
}

/// The completions of `ud` among `seen`, as `(res, flags)`.
fn of(seen: &[Seen], ud: u64) -> Vec<(i32, u32)> {
    seen.iter()
        .filter(|c| c.0 == ud)
        .map(|&(_, res, flags)| (res, flags))
        .collect()
}

/// Where the completion `(ud, res, flags)` is among `seen`.
fn position(seen: &[Seen], want: Seen) -> usize {
    seen.iter()
        .position(|&c| c == want)
        .unwrap_or_else(|| panic!("no {want:?} among {seen:?}"))
}

/// Submits the ring and reads `n` completions as `(user_data, res)`.
fn reap(ring: &mut Ring, n: u32) -> Vec<(u64, i32)> {
    ring.submit_and_wait(n).unwrap();
    ring.completions()
        .map(|c| (c.user_data(), c.res()))
        .collect()
}

/// A NOP flagged `IO_DRAIN`.
fn drained_nop(ud: u64) -> Nop {
    Nop::new().flags(SqeFlags::IO_DRAIN).user_data(ud)
}

/// Asserts that `refused` is a push handed back for the ring's drain, and
/// that the error says so every way it can be read.
fn assert_after_drain<T>(refused: &PushError<T>, what: &str) {
    assert_eq!(refused.kind(), PushErrorKind::AfterDrain, "on {what}");
    assert!(!refused.is_full(), "on {what}: no retry helps");
    assert_eq!(format!("{refused:?}"), "PushError(AfterDrain)");
    assert!(refused.to_string().contains("IO_DRAIN"), "{refused}");
    let io = std::io::Error::from(uring::Error::PushRefused(refused.kind()));
    assert_eq!(io.kind(), std::io::ErrorKind::Unsupported, "on {what}");
}

/// Pushes a lone zero-copy send of `data` and asserts that the scope
/// hands it back for the ring's drain, with nothing written.
fn assert_send_refused<'s>(
    s: &mut Scope<'s, '_>,
    socket: &'s TcpStream,
    data: &'s [u8],
    what: &str,
) {
    let room = s.space_left();
    let flying = s.in_flight();
    let refused = s
        .push(SendZc::new(socket, data).user_data(0x5E4D))
        .unwrap_err();
    assert_after_drain(&refused, what);
    let chain = s
        .push(Nop::new().user_data(0x5E4E).link(SendZc::new(socket, data)))
        .unwrap_err();
    assert_after_drain(&chain, what);
    assert_eq!(s.space_left(), room, "on {what}: nothing left in the SQ");
    assert_eq!(s.in_flight(), flying, "on {what}");
}

// ---------------------------------------------------------------------
// Every chain of one to four SQEs.
// ---------------------------------------------------------------------

/// One SQE of an enumerated chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A NOP.
    Nop,
    /// A NOP flagged `IO_DRAIN`.
    DrainedNop,
    /// A zero-copy send (`SendZc`).
    Send,
    /// A zero-copy send flagged `IO_DRAIN`.
    DrainedSend,
    /// A zero-copy message send (`SendMsgZc`).
    SendMsg,
}

impl Kind {
    /// Every kind.
    const ALL: [Kind; 5] = [
        Kind::Nop,
        Kind::DrainedNop,
        Kind::Send,
        Kind::DrainedSend,
        Kind::SendMsg,
    ];

    /// Whether it is flagged `IO_DRAIN`.
    fn drain(self) -> bool {
        matches!(self, Kind::DrainedNop | Kind::DrainedSend)
    }

    /// Whether it is a zero-copy send.
    fn send(self) -> bool {
        matches!(self, Kind::Send | Kind::DrainedSend | Kind::SendMsg)
    }
}

/// Every sequence of 1 to `max` kinds.
fn sequences(max: usize) -> Vec<Vec<Kind>> {
    let mut all: Vec<Vec<Kind>> = vec![Vec::new()];
    let mut out = Vec::new();
    for _ in 0..max {
        all = all
            .iter()
            .flat_map(|seq| {
                Kind::ALL.iter().map(move |&k| {
                    let mut next = seq.clone();
                    next.push(k);
                    next
                })
            })
            .collect();
        out.extend(all.iter().cloned());
    }
    out
}

/// The `user_data` of a chain's trailing link timeout.
const LT_UD: u64 = 5;

/// The `user_data` of the lone zero-copy send pushed after a chain.
const PROBE_UD: u64 = 9;

/// What a chain does, by the rule.
#[derive(Debug)]
struct Expect {
    /// The completions of each SQE, in order (`user_data` = position + 1),
    /// then the link timeout's, if any.
    per: Vec<Vec<(i32, u32)>>,
    /// The positions of the sends that run, in order.
    ran: Vec<usize>,
    /// Whether an SQE keeps its `IO_DRAIN` flag: the ring notes a drain.
    kept: bool,
}

/// The rule: a zero-copy send flagged `IO_DRAIN`, or after an SQE of its
/// chain that keeps the flag, fails with `EINVAL` (a refused SQE keeps
/// its place, and its flag unless a send of the chain runs); an SQE
/// flagged `IO_DRAIN` after a send of its chain that runs fails with
/// `EINVAL` and loses the flag. A failure cancels the rest of a soft
/// chain, not of a hard one; a send that runs posts its bytes and its
/// notification; a trailing link timeout ends cancelled.
fn expect(kinds: &[Kind], hard: bool, lt: bool, len: usize) -> Expect {
    let (mut drained, mut live_send, mut kept) = (false, false, false);
    let mut refused = Vec::new();
    for &k in kinds {
        let (drain, send) = (k.drain(), k.send());
        let refuse = send && (drain || drained) || drain && live_send;
        let mut flag = drain;
        if refuse {
            if live_send {
                flag = false;
            } else {
                drained |= drain;
            }
        } else if send {
            live_send = true;
        } else if drain {
            drained = true;
        }
        kept |= flag;
        refused.push(refuse);
    }
    let mut broken = false;
    let mut per = Vec::new();
    let mut ran = Vec::new();
    for (i, &k) in kinds.iter().enumerate() {
        if broken {
            per.push(vec![(-libc::ECANCELED, 0)]);
        } else if refused[i] {
            per.push(vec![(-libc::EINVAL, 0)]);
            broken = !hard;
        } else if k.send() {
            per.push(sent(len));
            ran.push(i);
        } else {
            per.push(vec![(0, 0)]);
        }
    }
    if lt {
        per.push(vec![(-libc::ECANCELED, 0)]);
    }
    Expect { per, ran, kept }
}

/// An op or chain that can be pushed in a scope and grown by one more.
trait Piece: Submission + Scoped + ChainNext + FitsSqe<Sqe64> + Grow {}

impl<T: Submission + Scoped + ChainNext + FitsSqe<Sqe64> + Grow> Piece for T {}

/// `.link(..)`, `.hard_link(..)` and `.link_timeout(..)`, on ops and
/// chains alike.
trait Grow: Sized {
    /// `next` linked after `self`, hard linked if `hard`.
    fn grow<N: Prepare + ChainNext>(self, next: N, hard: bool) -> Link<Self, N>;
    /// `self`'s last op bounded by `timeout`.
    fn bound(self, timeout: LinkTimeout) -> Link<Self, LinkTimeout>;
}

/// [`Grow`] for the op types of the enumeration.
macro_rules! grow_op {
    ($($ty:ty),*) => {$(
        impl Grow for $ty {
            fn grow<N: Prepare + ChainNext>(self, next: N, hard: bool) -> Link<Self, N> {
                if hard {
                    self.hard_link(next)
                } else {
                    self.link(next)
                }
            }
            fn bound(self, timeout: LinkTimeout) -> Link<Self, LinkTimeout> {
                self.link_timeout(timeout)
            }
        }
    )*};
}

grow_op!(Nop, SendZc<'_, Fd<'_>>, SendMsgZc<'_, '_, Fd<'_>>);

impl<H, T: AcceptsLinkTimeout<LinkTimeout>> Grow for Link<H, T> {
    fn grow<N: Prepare + ChainNext>(self, next: N, hard: bool) -> Link<Self, N> {
        if hard {
            self.hard_link(next)
        } else {
            self.link(next)
        }
    }
    fn bound(self, timeout: LinkTimeout) -> Link<Self, LinkTimeout> {
        self.link_timeout(timeout)
    }
}

/// What the SQEs of an enumerated chain use.
struct Parts<'e> {
    socket: &'e TcpStream,
    /// The bytes of the send at each position.
    bufs: &'e [Vec<u8>],
    /// The same bytes as a message, for `SendMsgZc`.
    msgs: &'e [MsgHdr<'e>],
    hard: bool,
    /// Whether a link timeout bounds the chain's last op.
    lt: bool,
}

/// The NOP of kind `k` at `user_data` `ud`.
fn nop_of(k: Kind, ud: u64) -> Nop {
    let nop = Nop::new().user_data(ud);
    if k.drain() {
        nop.flags(SqeFlags::IO_DRAIN)
    } else {
        nop
    }
}

/// The `SendZc` of kind `k` at position `ud - 1`.
fn send_of<'e>(k: Kind, ud: u64, p: &Parts<'e>) -> SendZc<'e, Fd<'e>> {
    let send = SendZc::new(p.socket, &p.bufs[ud as usize - 1]).user_data(ud);
    if k.drain() {
        send.flags(SqeFlags::IO_DRAIN)
    } else {
        send
    }
}

/// The `SendMsgZc` at position `ud - 1`.
fn msg_of<'e>(ud: u64, p: &Parts<'e>) -> SendMsgZc<'e, 'e, Fd<'e>> {
    SendMsgZc::new(p.socket, &p.msgs[ud as usize - 1]).user_data(ud)
}

/// Grows `c` by the SQE of kind `k` at `user_data` `ud`, then goes on
/// with `then`.
macro_rules! grow_with {
    ($s:expr, $c:expr, $k:expr, $ud:expr, $rest:expr, $p:expr, $then:ident) => {
        match $k {
            Kind::Nop | Kind::DrainedNop => $then($s, $c.grow(nop_of($k, $ud), $p.hard), $rest, $p),
            Kind::Send | Kind::DrainedSend => {
                $then($s, $c.grow(send_of($k, $ud, $p), $p.hard), $rest, $p)
            }
            Kind::SendMsg => $then($s, $c.grow(msg_of($ud, $p), $p.hard), $rest, $p),
        }
    };
}

/// Pushes `kinds` as one chain (`user_data` 1, 2, ...; at most four), and
/// its link timeout (`user_data` 5) if `p.lt`.
fn push_chain<'s, 'e: 's>(s: &mut Scope<'s, '_>, kinds: &[Kind], p: &Parts<'e>) {
    let (&k, rest) = kinds.split_first().unwrap();
    match k {
        Kind::Nop | Kind::DrainedNop => grow_2(s, nop_of(k, 1), rest, p),
        Kind::Send | Kind::DrainedSend => grow_2(s, send_of(k, 1, p), rest, p),
        Kind::SendMsg => grow_2(s, msg_of(1, p), rest, p),
    }
}

/// [`push_chain`] from its second SQE on.
fn grow_2<'s, 'e: 's, C: Piece + 's>(s: &mut Scope<'s, '_>, c: C, rest: &[Kind], p: &Parts<'e>) {
    let Some((&k, rest)) = rest.split_first() else {
        return finish(s, c, p);
    };
    grow_with!(s, c, k, 2, rest, p, grow_3)
}

/// [`push_chain`] from its third SQE on.
fn grow_3<'s, 'e: 's, C: Piece + 's>(s: &mut Scope<'s, '_>, c: C, rest: &[Kind], p: &Parts<'e>) {
    let Some((&k, rest)) = rest.split_first() else {
        return finish(s, c, p);
    };
    grow_with!(s, c, k, 3, rest, p, grow_4)
}

/// [`push_chain`]'s fourth SQE.
fn grow_4<'s, 'e: 's, C: Piece + 's>(s: &mut Scope<'s, '_>, c: C, rest: &[Kind], p: &Parts<'e>) {
    let Some((&k, rest)) = rest.split_first() else {
        return finish(s, c, p);
    };
    assert!(rest.is_empty(), "at most four SQEs");
    grow_with!(s, c, k, 4, rest, p, finish_last)
}

/// [`finish`], for the fourth SQE (which has nothing after it).
fn finish_last<'s, 'e: 's, C: Piece + 's>(s: &mut Scope<'s, '_>, c: C, _: &[Kind], p: &Parts<'e>) {
    finish(s, c, p)
}

/// Pushes the chain `c`, bounded by a link timeout if `p.lt`.
fn finish<'s, 'e: 's, C: Piece + 's>(s: &mut Scope<'s, '_>, c: C, p: &Parts<'e>) {
    let pushed = if p.lt {
        let timeout = LinkTimeout::new(Duration::from_secs(10)).user_data(LT_UD);
        s.push(c.bound(timeout)).map_err(|e| e.kind())
    } else {
        s.push(c).map_err(|e| e.kind())
    };
    pushed.unwrap();
}

/// Pushes the chain `kinds` on `ring` (used outside scopes first if
/// `used`), checks each SQE's completions against the rule and
/// that nothing else comes out, then pushes a lone zero-copy send: handed
/// back if an SQE kept its drain, else run once. Appends the bytes of
/// every send that ran to `expected`.
#[allow(clippy::too_many_arguments)]
fn run_chain_on(
    mut ring: Ring,
    kinds: &[Kind],
    hard: bool,
    lt: bool,
    used: bool,
    socket: &TcpStream,
    seed: &mut u8,
    expected: &mut Vec<u8>,
) {
    let len = 8;
    let bufs: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            *seed = seed.wrapping_add(1);
            uring_tests::pattern(len, *seed)
        })
        .collect();
    *seed = seed.wrapping_add(1);
    let probe = uring_tests::pattern(24, *seed);
    let iovs: Vec<[IoSlice<'_>; 1]> = bufs.iter().map(|b| [IoSlice::new(b)]).collect();
    let msgs: Vec<MsgHdr<'_>> = iovs.iter().map(|i| MsgHdr::new(i)).collect();
    let want = expect(kinds, hard, lt, len);
    if used {
        ring.push(Nop::new().user_data(0x07)).unwrap();
        assert_eq!(reap(&mut ring, 1), [(0x07, 0)]);
    }
    let what = format!("{kinds:?} (hard: {hard}, link timeout: {lt}, used ring: {used})");
    ring.scope(|s| {
        let parts = Parts {
            socket,
            bufs: &bufs,
            msgs: &msgs,
            hard,
            lt,
        };
        push_chain(s, kinds, &parts);
        let mut uds: Vec<u64> = (1..=kinds.len() as u64).collect();
        if lt {
            uds.push(LT_UD);
        }
        let got = gather(s, &uds);
        for (i, per) in want.per.iter().enumerate() {
            assert_eq!(
                &of(&got.seen, uds[i]),
                per,
                "{what}, SQE {i}: {:?}",
                got.seen
            );
        }
        let count: usize = want.per.iter().map(Vec::len).sum();
        assert_eq!(got.seen.len(), count, "{what}: {:?}", got.seen);
        assert_eq!(s.in_flight(), 0, "{what}");
        for &i in &want.ran {
            expected.extend_from_slice(&bufs[i]);
        }
        match s.push(SendZc::new(socket, &probe).user_data(PROBE_UD)) {
            Ok(()) => {
                assert!(!want.kept, "{what}: a send taken after a drain");
                let got = gather(s, &[PROBE_UD]);
                assert_eq!(got.seen.len(), 2, "{what}: {got:?}");
                assert_eq!(of(&got.seen, PROBE_UD), sent(24), "{what}");
                expected.extend_from_slice(&probe);
            }
            Err(e) => {
                assert!(want.kept, "{what}: a send refused with no drain kept");
                assert_after_drain(&e, &what);
            }
        }
        assert_eq!(s.in_flight(), 0, "{what}");
    });
    assert_eq!(ring.completions().count(), 0, "{what}: nothing left behind");
    assert_eq!(ring.pending(), 0, "{what}: nothing left in the SQ");
}

/// Every chain of one to four SQEs over `Kind::ALL` (780 shapes), linked
/// as `hard` says, with and without a trailing link timeout, each on a
/// fresh ring: see [`run_chain_on`]. The peer receives the bytes of each
/// send that ran, once, in order.
fn every_chain(hard: bool) {
    let (socket, peer) = tcp_pair();
    let mut expected = Vec::new();
    let mut seed = 0u8;
    let mut n = 0;
    for lt in [false, true] {
        for kinds in sequences(4) {
            run_chain_on(
                Ring::new(8).unwrap(),
                &kinds,
                hard,
                lt,
                n % 2 == 1,
                &socket,
                &mut seed,
                &mut expected,
            );
            n += 1;
        }
    }
    assert_eq!(n, 2 * 780);
    drop(socket);
    uring_tests::net::assert_kernel_bytes(
        &peer.received(),
        &expected,
        "each send that ran, once, in order",
    );
}

const SOFT_CHAINS: &str = "every_soft_chain_of_up_to_four_nops_and_sends_runs_as_the_rule_says";

/// Every soft-linked chain of one to four NOPs and zero-copy sends
/// (`SendZc`, `SendMsgZc`), each NOP and `SendZc` flagged `IO_DRAIN` or
/// not, with and without a trailing link timeout (1560 chains): each SQE
/// completes as the rule says (a send never runs in a chain the kernel
/// drains, nothing hangs), nothing else comes out, the ring notes a
/// drain exactly when an SQE kept its flag (a lone send after the chain
/// is handed back, or runs once), and the peer receives each send that
/// ran, once, in order.
#[test]
fn every_soft_chain_of_up_to_four_nops_and_sends_runs_as_the_rule_says() {
    own_process(SOFT_CHAINS, || every_chain(false));
}

const HARD_CHAINS: &str = "every_hard_chain_of_up_to_four_nops_and_sends_runs_as_the_rule_says";

/// As the soft chains, hard linked: a refused SQE does not cancel the
/// rest, so sends after it run (unless a kept drain refuses them).
#[test]
fn every_hard_chain_of_up_to_four_nops_and_sends_runs_as_the_rule_says() {
    own_process(HARD_CHAINS, || every_chain(true));
}

// ---------------------------------------------------------------------
// Every surface that writes SQEs notes a drain; nothing forgets it.
// ---------------------------------------------------------------------

/// Every way an SQE flagged `IO_DRAIN` reaches the ring, each tried on a
/// ring of its own by [`drain_through`].
const SURFACES: [&str; 30] = [
    "Scope::push",
    "Scope::push, a drain after a chain's head",
    "Scope::push, a refused send flagged IO_DRAIN after a chain's head",
    "Scope::push, a refused send flagged IO_DRAIN alone",
    "Scope::push, a link timeout flagged IO_DRAIN",
    "Scope::push, a timeout flagged IO_DRAIN",
    "Scope::push, IO_DRAIN with CQE_SKIP_SUCCESS",
    "Scope::push_linked",
    "Scope::push_linked, hard",
    "Scope::push_owned",
    "Scope::submission().push",
    "Scope::submission().push_linked",
    "Scope::submission().push_owned",
    "Scope::split().0.push",
    "Ring::push",
    "Ring::push, a drain after a chain's head",
    "Ring::push_linked",
    "Ring::push_unchecked",
    "Ring::push_linked_unchecked",
    "Ring::submission().push",
    "Ring::submission().push_linked",
    "Ring::submission().push_unchecked",
    "Ring::submission().push_linked_unchecked",
    "Ring::split().0.push",
    "Ring::push_raw",
    "Ring::push_raw, a drain after a chain's head",
    "Ring::next_sqe().commit()",
    "Ring::push, an op the kernel fails at its init",
    "Ring::push, unsubmitted",
    "Ring::push, on a ring created disabled",
];

/// A raw NOP SQE with `flags` and `user_data`.
fn raw_nop(flags: u8, user_data: u64) -> uring::sys::io_uring_sqe {
    uring::sys::io_uring_sqe {
        opcode: uring::sys::IORING_OP_NOP,
        flags,
        user_data,
        ..Default::default()
    }
}

/// Has `ring` take an SQE flagged `IO_DRAIN` through the surface `how`,
/// and reads what that completes (checking it), unless `how` leaves it
/// unsubmitted.
fn drain_through(how: &str, ring: &mut Ring, socket: &TcpStream, pipe_tx: &OwnedFd) {
    use uring::sys::{IOSQE_IO_DRAIN, IOSQE_IO_LINK};
    let data = uring_tests::pattern(16, 0x31);
    let drained = || drained_nop(1);
    let in_scope =
        |ring: &mut Ring, want: &[(u64, i32, u32)], push: &dyn Fn(&mut Scope<'_, '_>)| {
            ring.scope(|s| {
                push(s);
                let mut uds: Vec<u64> = want.iter().map(|w| w.0).collect();
                uds.dedup();
                let got = gather(s, &uds);
                assert_eq!(got.seen, want, "through {how}");
                assert_eq!(s.in_flight(), 0, "through {how}");
            });
        };
    match how {
        "Scope::push" => in_scope(ring, &[(1, 0, 0)], &|s| s.push(drained()).unwrap()),
        "Scope::push, a drain after a chain's head" => {
            in_scope(ring, &[(2, 0, 0), (1, 0, 0)], &|s| {
                s.push(Nop::new().user_data(2).link(drained())).unwrap()
            })
        }
        "Scope::push, a refused send flagged IO_DRAIN after a chain's head" => {
            ring.scope(|s| {
                s.push(
                    Nop::new().user_data(2).link(
                        SendZc::new(socket, &data)
                            .flags(SqeFlags::IO_DRAIN)
                            .user_data(1),
                    ),
                )
                .unwrap();
                let got = gather(s, &[1, 2]);
                assert_eq!(
                    got.seen,
                    [(2, 0, 0), (1, -libc::EINVAL, 0)],
                    "through {how}"
                );
            });
        }
        "Scope::push, a refused send flagged IO_DRAIN alone" => {
            ring.scope(|s| {
                s.push(
                    SendZc::new(socket, &data)
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(1),
                )
                .unwrap();
                let got = gather(s, &[1]);
                assert_eq!(got.seen, [(1, -libc::EINVAL, 0)], "through {how}");
            });
        }
        "Scope::push, a link timeout flagged IO_DRAIN" => {
            in_scope(ring, &[(2, 0, 0), (1, -libc::ECANCELED, 0)], &|s| {
                s.push(
                    Nop::new().user_data(2).link_timeout(
                        LinkTimeout::new(Duration::from_secs(10))
                            .flags(SqeFlags::IO_DRAIN)
                            .user_data(1),
                    ),
                )
                .unwrap()
            })
        }
        "Scope::push, a timeout flagged IO_DRAIN" => {
            in_scope(ring, &[(1, -libc::ETIME, 0)], &|s| {
                s.push(
                    Timeout::new(Duration::from_millis(1))
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(1),
                )
                .unwrap()
            })
        }
        "Scope::push, IO_DRAIN with CQE_SKIP_SUCCESS" => in_scope(ring, &[(1, 0, 0)], &|s| {
            s.push(
                Nop::new()
                    .flags(SqeFlags::IO_DRAIN | SqeFlags::CQE_SKIP_SUCCESS)
                    .user_data(1),
            )
            .unwrap()
        }),
        "Scope::push_linked" => in_scope(ring, &[(2, 0, 0), (1, 0, 0)], &|s| {
            s.push_linked(Linked::new(vec![Nop::new().user_data(2), drained()]))
                .unwrap()
        }),
        "Scope::push_linked, hard" => in_scope(ring, &[(1, 0, 0), (2, 0, 0)], &|s| {
            s.push_linked(Linked::hard(vec![drained(), Nop::new().user_data(2)]))
                .unwrap()
        }),
        "Scope::push_owned" => {
            ring.scope(|s| {
                s.push_owned(data.clone(), |buf, p| {
                    p.push(
                        Write::new(pipe_tx, buf)
                            .flags(SqeFlags::IO_DRAIN)
                            .user_data(1),
                    )
                })
                .unwrap();
                let got = gather(s, &[1]);
                assert_eq!(got.seen, [(1, 16, 0)], "through {how}");
                assert_eq!(got.bufs, [(1, data.clone())], "through {how}");
            });
        }
        "Scope::submission().push" => in_scope(ring, &[(1, 0, 0)], &|s| {
            s.submission().push(drained()).unwrap()
        }),
        "Scope::submission().push_linked" => in_scope(ring, &[(2, 0, 0), (1, 0, 0)], &|s| {
            s.submission()
                .push_linked(Linked::new(vec![Nop::new().user_data(2), drained()]))
                .unwrap()
        }),
        "Scope::submission().push_owned" => {
            ring.scope(|s| {
                s.submission()
                    .push_owned(data.clone(), |buf, p| {
                        p.push(
                            Write::new(pipe_tx, buf)
                                .flags(SqeFlags::IO_DRAIN)
                                .user_data(1),
                        )
                    })
                    .unwrap();
                let got = gather(s, &[1]);
                assert_eq!(got.seen, [(1, 16, 0)], "through {how}");
                assert_eq!(got.bufs, [(1, data.clone())], "through {how}");
            });
        }
        "Scope::split().0.push" => in_scope(ring, &[(1, 0, 0)], &|s| {
            let (mut q, _) = s.split();
            q.push(drained()).unwrap();
        }),
        "Ring::push" => {
            ring.push(drained()).unwrap();
            assert_eq!(reap(ring, 1), [(1, 0)], "through {how}");
        }
        "Ring::push, a drain after a chain's head" => {
            ring.push(Nop::new().user_data(2).hard_link(drained()))
                .unwrap();
            assert_eq!(reap(ring, 2), [(2, 0), (1, 0)], "through {how}");
        }
        "Ring::push_linked" => {
            ring.push_linked(Linked::new(vec![Nop::new().user_data(2), drained()]))
                .unwrap();
            assert_eq!(reap(ring, 2), [(2, 0), (1, 0)], "through {how}");
        }
        "Ring::push_unchecked" => {
            // SAFETY: a NOP names no memory.
            unsafe { ring.push_unchecked(drained()) }.unwrap();
            assert_eq!(reap(ring, 1), [(1, 0)], "through {how}");
        }
        "Ring::push_linked_unchecked" => {
            let chain = Linked::new(vec![Nop::new().user_data(2), drained()]);
            // SAFETY: NOPs name no memory.
            unsafe { ring.push_linked_unchecked(chain) }.unwrap();
            assert_eq!(reap(ring, 2), [(2, 0), (1, 0)], "through {how}");
        }
        "Ring::submission().push" => {
            let mut q = ring.submission();
            q.push(Nop::new().user_data(2)).unwrap();
            q.push(drained()).unwrap();
            drop(q);
            assert_eq!(reap(ring, 2), [(2, 0), (1, 0)], "through {how}");
        }
        "Ring::submission().push_linked" => {
            ring.submission()
                .push_linked(Linked::hard(vec![drained(), Nop::new().user_data(2)]))
                .unwrap();
            assert_eq!(reap(ring, 2), [(1, 0), (2, 0)], "through {how}");
        }
        "Ring::submission().push_unchecked" => {
            // SAFETY: a NOP names no memory.
            unsafe { ring.submission().push_unchecked(drained()) }.unwrap();
            assert_eq!(reap(ring, 1), [(1, 0)], "through {how}");
        }
        "Ring::submission().push_linked_unchecked" => {
            let chain = Linked::new(vec![drained()]);
            // SAFETY: a NOP names no memory.
            unsafe { ring.submission().push_linked_unchecked(chain) }.unwrap();
            assert_eq!(reap(ring, 1), [(1, 0)], "through {how}");
        }
        "Ring::split().0.push" => {
            let (mut q, _) = ring.split();
            q.push(drained()).unwrap();
            drop(q);
            assert_eq!(reap(ring, 1), [(1, 0)], "through {how}");
        }
        "Ring::push_raw" => {
            // SAFETY: a NOP names no memory.
            unsafe { ring.push_raw(&[raw_nop(IOSQE_IO_DRAIN, 1)]) }.unwrap();
            assert_eq!(reap(ring, 1), [(1, 0)], "through {how}");
        }
        "Ring::push_raw, a drain after a chain's head" => {
            let chain = [raw_nop(IOSQE_IO_LINK, 2), raw_nop(IOSQE_IO_DRAIN, 1)];
            // SAFETY: NOPs name no memory; the chain ends with its last SQE.
            unsafe { ring.push_raw(&chain) }.unwrap();
            assert_eq!(reap(ring, 2), [(2, 0), (1, 0)], "through {how}");
        }
        "Ring::next_sqe().commit()" => {
            let mut sqe = ring.next_sqe().unwrap();
            *sqe = raw_nop(IOSQE_IO_DRAIN, 1);
            // SAFETY: a NOP names no memory.
            unsafe { sqe.commit() };
            assert_eq!(reap(ring, 1), [(1, 0)], "through {how}");
        }
        "Ring::push, an op the kernel fails at its init" => {
            // A personality that no longer exists: the kernel reads the
            // drain before it fails the SQE (`EINVAL`).
            let personality = ring.register_personality().unwrap();
            ring.unregister_personality(personality).unwrap();
            ring.push(drained().personality(personality)).unwrap();
            assert_eq!(reap(ring, 1), [(1, -libc::EINVAL)], "through {how}");
        }
        "Ring::push, unsubmitted" => ring.push(drained()).unwrap(),
        "Ring::push, on a ring created disabled" => {
            // (A used ring took its NOP before it was enabled too.)
            ring.push(drained()).unwrap();
            ring.enable().unwrap();
            let n = ring.pending();
            let mut got = reap(ring, n);
            got.retain(|c| c.0 != 0x07);
            assert_eq!(got, [(1, 0)], "through {how}");
        }
        _ => unreachable!("{how}"),
    }
}

const SURFACE: &str = "a_drain_through_every_surface_keeps_zero_copy_sends_out";

/// An SQE flagged `IO_DRAIN` taken through each surface that writes SQEs
/// ([`SURFACES`]: a scope's pushes, batches and owned pushes, the ring's
/// pushes, checked or not, batches, split queue, raw SQEs and hand-written
/// ones; after a chain's head, on a link timeout or a timeout, with
/// `CQE_SKIP_SUCCESS`, failed by the kernel at its init, unsubmitted, on
/// a ring created disabled), each on a ring of its own, clean or used
/// outside scopes: that scope and every later one hand each zero-copy
/// send back (`AfterDrain`, with nothing left in the SQ), and a reactor
/// made from the ring fails one with `Unsupported`, handing its buffer
/// back. A ring that took no drain sends.
#[test]
fn a_drain_through_every_surface_keeps_zero_copy_sends_out() {
    own_process(SURFACE, || {
        use uring::reactor::Reactor;
        let (socket, peer) = tcp_pair();
        let (pipe_rx, pipe_tx) = uring_tests::pipe();
        let data = uring_tests::pattern(48, 7);
        let mut n = 0;
        for how in SURFACES {
            for used in [false, true] {
                let mut ring = if how.contains("disabled") {
                    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
                    if used {
                        ring.push(Nop::new().user_data(0x07)).unwrap();
                    }
                    ring
                } else if used {
                    used_ring(8)
                } else {
                    Ring::new(8).unwrap()
                };
                let what = format!("{how} (used ring: {used})");
                drain_through(how, &mut ring, &socket, &pipe_tx);
                ring.scope(|s| assert_send_refused(s, &socket, &data, &what));
                // A later scope too, and no reactor takes the ring.
                ring.scope(|s| assert_send_refused(s, &socket, &data, &what));
                assert_reactor_refuses(Reactor::from_ring(ring), &what);
                n += 1;
            }
        }
        assert_eq!(n, 2 * SURFACES.len());
        // A ring that took no drain sends.
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            s.push(SendZc::new(&socket, &data).user_data(4)).unwrap();
            let got = gather(s, &[4]);
            assert_eq!(of(&got.seen, 4), sent(48), "{got:?}");
        });
        drop(socket);
        uring_tests::net::assert_kernel_bytes(
            &peer.received(),
            &data,
            "only the send of the clean ring, once",
        );
        // What the drained writes wrote, each once.
        drop(pipe_tx);
        let mut written = Vec::new();
        std::fs::File::from(pipe_rx)
            .read_to_end(&mut written)
            .unwrap();
        assert_eq!(written, uring_tests::pattern(16, 0x31).repeat(4));
    });
}

const NO_RESET: &str = "nothing_the_ring_does_forgets_a_drain";

/// A ring that took a drain keeps handing zero-copy sends back: after
/// resizes that grow, shrink, keep its size, or submit a drained NOP
/// pushed and not yet submitted, and a resize into memory of the
/// program's; after its drained NOP was taken back by a scope whose
/// submit the kernel refused (a single issuer's ring lent to another
/// thread, `EEXIST`); through twenty later scopes (whose plain sends run);
/// after a scope that panicked with the drain in flight, and one whose
/// owned push panicked after pushing its drained write (which the scope's
/// end cancels, or lets run, once). A ring made after another was closed
/// sends.
#[test]
fn nothing_the_ring_does_forgets_a_drain() {
    own_process(NO_RESET, || {
        let (socket, peer) = tcp_pair();
        let data = uring_tests::pattern(32, 11);
        let plain = uring_tests::pattern(8, 12);
        let mut expected = Vec::new();
        // Resizes.
        if let Some(mut ring) = uring_tests::resizable_ring(8) {
            ring.push(drained_nop(1)).unwrap();
            assert_eq!(reap(&mut ring, 1), [(1, 0)]);
            for (sq, cq) in [(16, 32), (4, 8), (4, 8), (64, 128)] {
                ring.resize(sq, cq).unwrap();
                let what = format!("resized to {sq}, {cq}");
                ring.scope(|s| assert_send_refused(s, &socket, &data, &what));
            }
        }
        if let Some(mut ring) = uring_tests::resizable_ring(8) {
            ring.push(drained_nop(2)).unwrap();
            ring.resize(16, 32).unwrap();
            assert_eq!(ring.pending(), 0, "the resize submitted the drained NOP");
            ring.submit_and_wait(1).unwrap();
            let c: Vec<_> = ring
                .completions()
                .map(|c| (c.user_data(), c.res()))
                .collect();
            assert_eq!(c, [(2, 0)]);
            ring.scope(|s| assert_send_refused(s, &socket, &data, "a resize that submitted"));
        }
        if uring_tests::require_kernel(6, 13, "resizing a ring in given memory") {
            let builder = uring::Builder::new().single_issuer().defer_taskrun();
            let size = builder.ring_memory_size(8).unwrap();
            let mut ring = builder
                .build_in(8, uring::RingRegion::anonymous(size).unwrap())
                .unwrap();
            ring.push(drained_nop(3)).unwrap();
            assert_eq!(reap(&mut ring, 1), [(3, 0)]);
            let need = ring.resize_memory_size(16, 64).unwrap();
            ring.resize_in(16, 64, uring::RingRegion::anonymous(need).unwrap())
                .unwrap();
            ring.scope(|s| assert_send_refused(s, &socket, &data, "resize_in"));
        }
        // A drained NOP taken back: the kernel never saw it, the ring
        // still remembers it.
        match Ring::builder().single_issuer().build(8) {
            Ok(mut ring) => {
                std::thread::scope(|t| {
                    t.spawn(|| {
                        ring.scope(|s| {
                            s.push(drained_nop(4)).unwrap();
                            let e = s.submit().unwrap_err();
                            assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
                            assert_send_refused(s, &socket, &data, "another thread");
                        });
                    });
                });
                assert_eq!(ring.pending(), 0, "the scope took its SQE back");
                assert_eq!(ring.completions().count(), 0);
                ring.scope(|s| assert_send_refused(s, &socket, &data, "after a retract"));
            }
            Err(e) => uring_tests::skip(format_args!("no single-issuer ring: {e}")),
        }
        // Scopes, panics.
        let (pipe_rx, pipe_tx) = uring_tests::pipe();
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            s.push(drained_nop(5)).unwrap();
            assert_eq!(gather(s, &[5]).seen, [(5, 0, 0)]);
        });
        for round in 0..20u64 {
            ring.scope(|s| {
                assert_send_refused(s, &socket, &data, &format!("scope {round}"));
                s.push(Send::new(&socket, &plain).user_data(6)).unwrap();
                assert_eq!(gather(s, &[6]).seen, [(6, 8, 0)], "scope {round}");
                expected.extend_from_slice(&plain);
            });
        }
        let owned = uring_tests::pattern(12, 13);
        for how in ["a scope", "an owned push"] {
            let ended = std::panic::catch_unwind(AssertUnwindSafe(|| {
                ring.scope(|s| {
                    if how == "a scope" {
                        s.push(drained_nop(7)).unwrap();
                        s.submit().unwrap();
                        assert_send_refused(s, &socket, &data, "before the panic");
                        panic!("the scope ends by a panic");
                    }
                    let _ = s.push_owned(owned.clone(), |buf, p| {
                        p.push(
                            Write::new(&pipe_tx, buf)
                                .flags(SqeFlags::IO_DRAIN)
                                .user_data(8),
                        );
                        panic!("the owned push ends by a panic");
                    });
                })
            }));
            assert!(ended.is_err(), "{how}");
            assert_eq!(ring.completions().count(), 0, "after {how}: nothing leaks");
            assert_eq!(ring.pending(), 0, "after {how}");
            ring.scope(|s| assert_send_refused(s, &socket, &data, &format!("after {how}")));
        }
        drop(pipe_tx);
        let mut written = Vec::new();
        std::fs::File::from(pipe_rx)
            .read_to_end(&mut written)
            .unwrap();
        // The scope's end cancels the write, which may have run first.
        assert!(
            written.is_empty() || written == owned,
            "the drained write ran once at most: {written:?}"
        );
        // A ring closed; a new one sends.
        ring.close().unwrap();
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            s.push(SendZc::new(&socket, &data).user_data(9)).unwrap();
            assert_eq!(of(&gather(s, &[9]).seen, 9), sent(32));
        });
        expected.extend_from_slice(&data);
        drop(socket);
        uring_tests::net::assert_kernel_bytes(&peer.received(), &expected, "the sends that ran");
    });
}

// ---------------------------------------------------------------------
// Sends pushed before the drain.
// ---------------------------------------------------------------------

const BEFORE: &str = "a_send_pushed_before_a_drain_completes_first_with_its_notification";

/// A zero-copy send pushed before a drained NOP on the same ring, on a
/// clean ring and on one used outside scopes: completed before the NOP
/// is pushed; pushed in the same submit; linked behind a pipe read that
/// waits for input while the NOP comes; waiting for room on a full socket
/// while the NOP comes. Each send completes once, with its notification,
/// and the NOP's completion comes after that notification (the drain
/// waits for the send's last request); the NOP waits while the send does.
/// Then the ring hands the next send back. The peer receives the sends'
/// bytes once, in order.
#[test]
fn a_send_pushed_before_a_drain_completes_first_with_its_notification() {
    own_process(BEFORE, || {
        for used in [false, true] {
            let make = || {
                if used {
                    used_ring(8)
                } else {
                    Ring::new(8).unwrap()
                }
            };
            let a = uring_tests::pattern(40, 21);
            let b = uring_tests::pattern(40, 22);
            let (socket, peer) = tcp_pair();
            // Completed first.
            let mut ring = make();
            ring.scope(|s| {
                s.push(SendZc::new(&socket, &a).user_data(1)).unwrap();
                assert_eq!(of(&gather(s, &[1]).seen, 1), sent(40));
                s.push(drained_nop(2)).unwrap();
                assert_eq!(gather(s, &[2]).seen, [(2, 0, 0)]);
                assert_send_refused(s, &socket, &b, "after a completed send");
            });
            // In the same submit.
            let mut ring = make();
            ring.scope(|s| {
                s.push(SendZc::new(&socket, &a).user_data(3)).unwrap();
                s.push(drained_nop(4)).unwrap();
                let got = gather(s, &[3, 4]);
                assert_eq!(of(&got.seen, 3), sent(40), "{got:?}");
                assert_eq!(of(&got.seen, 4), [(0, 0)], "{got:?}");
                assert!(
                    position(&got.seen, (4, 0, 0))
                        > position(&got.seen, (3, 0, IORING_CQE_F_NOTIF)),
                    "the drain waits for the notification: {got:?}"
                );
                assert_send_refused(s, &socket, &b, "after a send in the same submit");
            });
            // Linked behind a read that waits.
            let (pipe_rx, pipe_tx) = uring_tests::pipe();
            let mut byte = [0u8; 1];
            let mut ring = make();
            ring.scope(|s| {
                s.push(
                    Read::new(&pipe_rx, &mut byte[..])
                        .user_data(5)
                        .link(SendZc::new(&socket, &b).user_data(6)),
                )
                .unwrap();
                s.submit().unwrap();
                s.push(drained_nop(7)).unwrap();
                s.submit().unwrap();
                assert_send_refused(s, &socket, &a, "with the send behind a read");
                std::fs::File::from(pipe_tx.try_clone().unwrap())
                    .write_all(b"x")
                    .unwrap();
                let got = gather(s, &[5, 6, 7]);
                assert_eq!(of(&got.seen, 5), [(1, 0)], "{got:?}");
                assert_eq!(of(&got.seen, 6), sent(40), "{got:?}");
                assert_eq!(of(&got.seen, 7), [(0, 0)], "{got:?}");
                assert!(
                    position(&got.seen, (7, 0, 0))
                        > position(&got.seen, (6, 0, IORING_CQE_F_NOTIF)),
                    "{got:?}"
                );
            });
            assert_eq!(byte, *b"x");
            drop(socket);
            uring_tests::net::assert_kernel_bytes(
                &peer.received(),
                &[&a[..], &a, &b].concat(),
                "the sends, once, in order",
            );
            // Waiting for room on a full socket.
            let (socket, rx) = uring_tests::tcp_pair();
            let (filler, filled) = uring_tests::net::fill_send_side(socket.as_fd());
            let mut ring = make();
            let peer = ring.scope(|s| {
                s.push(SendZc::new(&socket, &a).user_data(8)).unwrap();
                s.submit().unwrap();
                s.push(drained_nop(9)).unwrap();
                s.submit().unwrap();
                let _ = s.wait_timeout(1, Duration::from_millis(100));
                let mut early = Got::default();
                read_ready(s, &mut early);
                assert_eq!(
                    early.seen,
                    [],
                    "the send waits for room, the NOP for the send"
                );
                let peer = Peer::spawn(rx.try_clone().unwrap());
                let got = gather(s, &[8, 9]);
                assert_eq!(of(&got.seen, 8), sent(40), "{got:?}");
                assert_eq!(of(&got.seen, 9), [(0, 0)], "{got:?}");
                assert!(
                    position(&got.seen, (9, 0, 0))
                        > position(&got.seen, (8, 0, IORING_CQE_F_NOTIF)),
                    "{got:?}"
                );
                assert_send_refused(s, &socket, &b, "after a send that waited for room");
                peer
            });
            drop(filler);
            drop(socket);
            let got = peer.received();
            assert_eq!(got.len(), filled + 40);
            assert!(got[..filled].iter().all(|&x| x == 0), "the filler's bytes");
            uring_tests::net::assert_kernel_bytes(&got[filled..], &a, "the send's bytes, once");
        }
    });
}

const ENDED: &str = "a_scope_ending_with_a_send_and_a_drain_in_flight_returns";

/// A scope that ends (returning, or by a panic) with a zero-copy send
/// waiting for room on a full socket and a drained NOP behind it: the
/// scope cancels the send, the NOP runs, and the scope returns with
/// nothing left behind; the send sent nothing (the peer gets the
/// filler's bytes alone). Also with the send linked behind a pipe read
/// that waits.
#[test]
fn a_scope_ending_with_a_send_and_a_drain_in_flight_returns() {
    own_process(ENDED, || {
        let a = uring_tests::pattern(40, 23);
        for panics in [false, true] {
            for behind_read in [false, true] {
                let (socket, mut rx) = uring_tests::tcp_pair();
                let (filler, filled) = uring_tests::net::fill_send_side(socket.as_fd());
                let (pipe_rx, _pipe_tx) = uring_tests::pipe();
                let mut byte = [0u8; 1];
                let mut ring = Ring::new(8).unwrap();
                let ended = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    ring.scope(|s| {
                        if behind_read {
                            s.push(
                                Read::new(&pipe_rx, &mut byte[..])
                                    .user_data(1)
                                    .link(SendZc::new(&socket, &a).user_data(2)),
                            )
                            .unwrap();
                        } else {
                            s.push(SendZc::new(&socket, &a).user_data(2)).unwrap();
                        }
                        s.submit().unwrap();
                        s.push(drained_nop(3)).unwrap();
                        s.submit().unwrap();
                        if panics {
                            panic!("the scope ends by a panic");
                        }
                    })
                }));
                assert_eq!(ended.is_err(), panics);
                assert_eq!(ring.completions().count(), 0, "nothing left behind");
                assert_eq!(ring.pending(), 0);
                ring.scope(|s| assert_send_refused(s, &socket, &a, "after the scope"));
                drop(filler);
                drop(socket);
                let mut got = Vec::new();
                rx.read_to_end(&mut got).unwrap();
                assert_eq!(got.len(), filled, "the send sent nothing");
                assert_eq!(byte, [0], "the read took nothing");
            }
        }
    });
}

// ---------------------------------------------------------------------
// What `AfterDrain` hands back.
// ---------------------------------------------------------------------

const HANDED_BACK: &str = "after_drain_hands_back_exactly_what_was_pushed";

/// On a ring that took a drain, every zero-copy send is handed back whole
/// (`AfterDrain`), with nothing written to the SQ and nothing in flight:
/// `SendZc`, `SendMsgZc`, `SendZcV`, `SendZcFixed`, `SendMsgZcFixed`, a
/// NOP linked to a send, a send bounded by a link timeout, soft and hard
/// `Linked` chains of sends, a buffer given to `push_owned` (the same
/// allocation, untouched; a chain over it too), and the same through a
/// batch and a split queue. Each op handed back, pushed in a scope of a
/// ring that took no drain, runs as pushed: its `user_data`, its bytes,
/// its chain (the fixed forms, whose buffer table is the drained ring's,
/// are compared with the op as built instead).
#[test]
fn after_drain_hands_back_exactly_what_was_pushed() {
    own_process(HANDED_BACK, || {
        let (socket, peer) = tcp_pair();
        let bufs: Vec<Vec<u8>> = (0..8).map(|i| uring_tests::pattern(20, 40 + i)).collect();
        let iov = [IoSlice::new(&bufs[1])];
        let msg = MsgHdr::new(&iov);
        let pair = [IoSlice::new(&bufs[2][..7]), IoSlice::new(&bufs[2][7..])];
        let owned = uring_tests::pattern(20, 50);
        let vectored = uring_tests::kernel_version() >= (6, 17);
        let mut expected = Vec::new();
        let mut drained = Ring::new(16).unwrap();
        let fixed = drained.register_buffers_sparse(1).unwrap();
        drained.push(drained_nop(0x99)).unwrap();
        assert_eq!(reap(&mut drained, 1), [(0x99, 0)]);
        let mut clean = Ring::new(16).unwrap();
        drained.scope(|s| {
            let room = s.space_left();
            // Pushes in a scope of the clean ring, and returns what came out.
            macro_rules! on_clean {
                ($uds:expr, |$t:ident| $push:expr) => {
                    clean.scope(|$t| {
                        $push;
                        gather($t, $uds)
                    })
                };
            }
            let back = s
                .push(SendZc::new(&socket, &bufs[0]).user_data(1))
                .unwrap_err();
            assert_after_drain(&back, "SendZc");
            let op = back.into_inner();
            let got = on_clean!(&[1], |t| t.push(op).unwrap());
            assert_eq!(of(&got.seen, 1), sent(20));
            expected.extend_from_slice(&bufs[0]);

            let back = s
                .push(SendMsgZc::new(&socket, &msg).user_data(2))
                .unwrap_err();
            assert_after_drain(&back, "SendMsgZc");
            let op = back.into_inner();
            let got = on_clean!(&[2], |t| t.push(op).unwrap());
            assert_eq!(of(&got.seen, 2), sent(20));
            expected.extend_from_slice(&bufs[1]);

            let back = s
                .push(SendZcV::new(&socket, &pair).user_data(3))
                .unwrap_err();
            assert_after_drain(&back, "SendZcV");
            if vectored {
                let op = back.into_inner();
                let got = on_clean!(&[3], |t| t.push(op).unwrap());
                assert_eq!(of(&got.seen, 3), sent(20));
                expected.extend_from_slice(&bufs[2]);
            } else {
                uring_tests::skip("SendZcV needs Linux 6.17");
            }

            let index = fixed.get(0).unwrap();
            let build = || SendZcFixed::new(&socket, &bufs[3], index).user_data(4);
            let back = s.push(build()).unwrap_err();
            assert_after_drain(&back, "SendZcFixed");
            assert_eq!(format!("{:?}", back.into_inner()), format!("{:?}", build()));
            let build = || SendMsgZcFixed::new(&socket, &msg, index).user_data(4);
            let back = s.push(build()).unwrap_err();
            assert_after_drain(&back, "SendMsgZcFixed");
            assert_eq!(format!("{:?}", back.into_inner()), format!("{:?}", build()));

            let back = s
                .push(
                    Nop::new()
                        .user_data(5)
                        .link(SendZc::new(&socket, &bufs[4]).user_data(6)),
                )
                .unwrap_err();
            assert_after_drain(&back, "a NOP linked to a send");
            let op = back.into_inner();
            let got = on_clean!(&[5, 6], |t| t.push(op).unwrap());
            assert_eq!(of(&got.seen, 5), [(0, 0)]);
            assert_eq!(of(&got.seen, 6), sent(20));
            expected.extend_from_slice(&bufs[4]);

            let back = s
                .push(
                    SendZc::new(&socket, &bufs[5])
                        .user_data(7)
                        .link_timeout(LinkTimeout::new(Duration::from_secs(10)).user_data(8)),
                )
                .unwrap_err();
            assert_after_drain(&back, "a send bounded by a link timeout");
            let op = back.into_inner();
            let got = on_clean!(&[7, 8], |t| t.push(op).unwrap());
            assert_eq!(of(&got.seen, 7), sent(20));
            assert_eq!(of(&got.seen, 8), [(-libc::ECANCELED, 0)]);
            expected.extend_from_slice(&bufs[5]);

            for hard in [false, true] {
                let base = if hard { 20 } else { 10 };
                let sends: Vec<_> = (0..3)
                    .map(|i| SendZc::new(&socket, &bufs[6 + i % 2]).user_data(base + i as u64))
                    .collect();
                let chain = if hard {
                    Linked::hard(sends)
                } else {
                    Linked::new(sends)
                };
                let back = s.push_linked(chain).unwrap_err();
                assert_after_drain(&back, "a Linked chain");
                let chain = back.into_inner();
                assert_eq!(chain.len(), 3, "the chain comes back whole");
                let uds = [base, base + 1, base + 2];
                let got = on_clean!(&uds, |t| t.push_linked(chain).unwrap());
                for (i, ud) in uds.into_iter().enumerate() {
                    assert_eq!(of(&got.seen, ud), sent(20), "hard: {hard}");
                    expected.extend_from_slice(&bufs[6 + i % 2]);
                }
            }

            let given = owned.clone();
            let owned_at = given.as_ptr();
            let back = s
                .push_owned(given, |buf, p| {
                    p.push(SendZc::new(&socket, buf).user_data(30))
                })
                .unwrap_err();
            assert_after_drain(&back, "push_owned");
            let buf = back.into_inner();
            assert_eq!(buf, owned, "the buffer comes back as it was");
            let again = s
                .push_owned(owned.clone(), |buf, p| {
                    p.push(Nop::new().user_data(31).link(SendZc::new(&socket, buf)))
                })
                .unwrap_err();
            assert_after_drain(&again, "push_owned of a chain");
            assert_eq!(buf.as_ptr(), owned_at, "the same allocation");
            let got = on_clean!(&[30], |t| {
                t.push_owned(buf, |buf, p| {
                    p.push(SendZc::new(&socket, buf).user_data(30))
                })
                .unwrap()
            });
            assert_eq!(of(&got.seen, 30), sent(20));
            assert_eq!(got.bufs.len(), 1, "the buffer, once: {got:?}");
            expected.extend_from_slice(&owned);

            let mut q = s.submission();
            let back = q
                .push(SendZc::new(&socket, &bufs[0]).user_data(32))
                .unwrap_err();
            assert_after_drain(&back, "a batch's push");
            let back = q
                .push_owned(owned.clone(), |buf, p| p.push(SendZc::new(&socket, buf)))
                .unwrap_err();
            assert_after_drain(&back, "a batch's push_owned");
            assert_eq!(back.into_inner(), owned);
            let back = q
                .push_linked(Linked::new(vec![
                    SendMsgZc::new(&socket, &msg).user_data(33),
                ]))
                .unwrap_err();
            assert_after_drain(&back, "a batch's push_linked");
            assert_eq!(q.space_left(), room, "nothing written by the batch");
            drop(q);
            let (mut q, _) = s.split();
            let back = q
                .push(SendZc::new(&socket, &bufs[0]).user_data(34))
                .unwrap_err();
            assert_after_drain(&back, "a split queue's push");
            drop(q);
            assert_eq!(s.space_left(), room, "nothing written");
            assert_eq!(s.in_flight(), 0);
        });
        assert_eq!(drained.pending(), 0, "nothing left in the SQ");
        assert_eq!(drained.completions().count(), 0);
        assert_eq!(clean.completions().count(), 0);
        drop(socket);
        uring_tests::net::assert_kernel_bytes(
            &peer.received(),
            &expected,
            "the sends handed back, run once each by the clean ring",
        );
    });
}

// ---------------------------------------------------------------------
// Reactors.
// ---------------------------------------------------------------------

const REACTOR: &str = "a_reactor_takes_no_drained_ring_and_sends_zero_copy_on_a_clean_one";

/// A reactor made from a clean ring sends zero-copy, once; no reactor
/// takes a ring that took a drain, even one whose drained NOP completed
/// and was reaped (`InvalidInput`, naming `IO_DRAIN`).
#[test]
fn a_reactor_takes_no_drained_ring_and_sends_zero_copy_on_a_clean_one() {
    own_process(REACTOR, || {
        use uring::reactor::{Reactor, SharedFd, ops::SendZc as ReactorSendZc};
        let (socket, peer) = tcp_pair();
        let data = uring_tests::pattern(80, 9);
        // A reactor of a clean ring.
        let reactor = Reactor::from_ring(Ring::new(8).unwrap()).unwrap();
        let shared = SharedFd::new(OwnedFd::from(socket.try_clone().unwrap()));
        let (res, back) = reactor
            .run_until(reactor.op(ReactorSendZc::new(&shared, data.clone())))
            .unwrap();
        assert_eq!(res.unwrap(), 80);
        assert_eq!(back, data);
        drop(reactor);
        // No reactor takes a drained ring.
        let mut ring = Ring::new(8).unwrap();
        ring.push(drained_nop(1)).unwrap();
        assert_eq!(reap(&mut ring, 1), [(1, 0)]);
        assert_reactor_refuses(Reactor::from_ring(ring), "a drained NOP, reaped");
        drop(shared);
        drop(socket);
        uring_tests::net::assert_kernel_bytes(
            &peer.received(),
            &data,
            "the zero-copy send of the clean ring's reactor",
        );
    });
}

/// Asserts that `made` is a reactor refused for its ring's drain.
fn assert_reactor_refuses(made: std::io::Result<uring::reactor::Reactor>, what: &str) {
    match made {
        Ok(_) => panic!("{what}: a reactor took a ring that took a drain"),
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{what}: {e}");
            assert!(e.to_string().contains("IO_DRAIN"), "{what}: {e}");
        }
    }
}

const REACTOR_STALLS: &str = "a_reactor_given_a_ring_with_a_drain_in_flight_runs_every_op";

/// A ring that took an op flagged `IO_DRAIN` that has not completed yet
/// (unsubmitted, or a drained timeout still running) is refused by
/// `Reactor::from_ring`: the reactor's first submit would find the drain
/// on and something else allocated, the kernel would defer its ops and its
/// wake-up poll (a multishot poll on its eventfd, which never ends), and
/// while the drain is on it holds every later op until every request it
/// allocated has completed. The ring is dropped with the refusal, and a
/// drained timeout in flight ends with it.
#[test]
fn a_reactor_given_a_ring_with_a_drain_in_flight_runs_every_op() {
    own_process(REACTOR_STALLS, || {
        use uring::reactor::Reactor;
        for how in ["unsubmitted", "in flight"] {
            let mut ring = Ring::new(8).unwrap();
            if how == "unsubmitted" {
                ring.push(drained_nop(1)).unwrap();
            } else {
                ring.push(
                    Timeout::new(Duration::from_millis(20))
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(1),
                )
                .unwrap();
                ring.submit().unwrap();
            }
            assert_reactor_refuses(Reactor::from_ring(ring), how);
        }
    });
}

const BIG: &str = "rings_of_big_sqes_and_cqes_note_drains";

/// Rings of 128-byte SQEs (through `Ring::push`, `push_raw`, a hand-written
/// SQE, a scope) and of 32-byte CQEs (through a scope) note a drain as
/// the others do: their scopes then hand zero-copy sends back; one that
/// took no drain sends.
#[test]
fn rings_of_big_sqes_and_cqes_note_drains() {
    own_process(BIG, || {
        use uring::{Cqe16, Cqe32, Sqe128};
        let (socket, peer) = tcp_pair();
        let data = uring_tests::pattern(24, 60);
        for how in [
            "Ring::push",
            "Ring::push_raw",
            "Ring::next_sqe",
            "Scope::push",
            "none",
        ] {
            let mut ring = Ring::builder().build_sized::<Sqe128, Cqe16>(8).unwrap();
            match how {
                "Ring::push" => ring.push(drained_nop(1)).unwrap(),
                "Ring::push_raw" => {
                    // SAFETY: a NOP names no memory.
                    unsafe { ring.push_raw(&[raw_nop(uring::sys::IOSQE_IO_DRAIN, 1)]) }.unwrap()
                }
                "Ring::next_sqe" => {
                    let mut sqe = ring.next_sqe().unwrap();
                    sqe.sqe = raw_nop(uring::sys::IOSQE_IO_DRAIN, 1);
                    // SAFETY: a NOP names no memory.
                    unsafe { sqe.commit() };
                }
                "Scope::push" => ring.scope(|s| {
                    s.push(drained_nop(1)).unwrap();
                    s.submit_and_wait(1).unwrap();
                    assert_eq!(s.completions().count(), 1);
                }),
                _ => {}
            }
            if how.starts_with("Ring::") {
                ring.submit_and_wait(1).unwrap();
                let c: Vec<_> = ring
                    .completions()
                    .map(|c| (c.user_data(), c.res()))
                    .collect();
                assert_eq!(c, [(1, 0)], "{how}");
            }
            ring.scope(|s| match s.push(SendZc::new(&socket, &data).user_data(2)) {
                Ok(()) => {
                    assert_eq!(how, "none", "a send taken after a drain through {how}");
                    s.submit_and_wait(2).unwrap();
                    let c: Vec<_> = s
                        .completions()
                        .map(|c| (c.cqe().user_data(), c.cqe().res(), c.cqe().flags()))
                        .collect();
                    assert_eq!(c, [(2, 24, IORING_CQE_F_MORE), (2, 0, IORING_CQE_F_NOTIF)]);
                }
                Err(e) => assert_after_drain(&e, how),
            });
        }
        let mut ring = Ring::builder()
            .build_sized::<uring::Sqe64, Cqe32>(8)
            .unwrap();
        ring.scope(|s| {
            s.push(drained_nop(3)).unwrap();
            s.submit_and_wait(1).unwrap();
            assert_eq!(s.completions().count(), 1);
            let e = s
                .push(SendZc::new(&socket, &data).user_data(4))
                .unwrap_err();
            assert_after_drain(&e, "a ring of big CQEs");
        });
        drop(socket);
        uring_tests::net::assert_kernel_bytes(&peer.received(), &data, "the clean ring's send");
    });
}

// ---------------------------------------------------------------------
// CQE_SKIP_SUCCESS, tiny rings, other kinds of rings.
// ---------------------------------------------------------------------

const SKIP: &str = "cqe_skip_success_and_drains_are_noted_as_pushed";

/// In a scope, a NOP flagged `IO_DRAIN | CQE_SKIP_SUCCESS` posts its
/// completion all the same (the scope clears the skip, so the kernel
/// keeps drains on), and the ring notes the drain. Outside scopes,
/// `CQE_SKIP_SUCCESS` turns the kernel's drains off for good (an SQE
/// flagged `IO_DRAIN` fails with `EOPNOTSUPP`, flagged with both too): the
/// ring notes each drained SQE it wrote all the same and hands sends back.
/// A ring whose drains the kernel turned off but that took no drained SQE
/// sends, screens a chain of a send and a drained NOP as the rule says
/// (the NOP fails with `EINVAL`, the send runs), and a drained NOP alone
/// then fails with `EOPNOTSUPP` and is noted.
#[test]
fn cqe_skip_success_and_drains_are_noted_as_pushed() {
    own_process(SKIP, || {
        let (socket, peer) = tcp_pair();
        let a = uring_tests::pattern(12, 16);
        let b = uring_tests::pattern(12, 17);
        let mut expected = Vec::new();
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            s.push(
                Nop::new()
                    .flags(SqeFlags::IO_DRAIN | SqeFlags::CQE_SKIP_SUCCESS)
                    .user_data(1),
            )
            .unwrap();
            assert_eq!(gather(s, &[1]).seen, [(1, 0, 0)]);
            assert_send_refused(s, &socket, &a, "IO_DRAIN | CQE_SKIP_SUCCESS in a scope");
        });
        // Drains off for good, then a drained NOP.
        let mut ring = Ring::new(8).unwrap();
        ring.push(Nop::new().flags(SqeFlags::CQE_SKIP_SUCCESS).user_data(2))
            .unwrap();
        ring.push(drained_nop(3)).unwrap();
        assert_eq!(reap(&mut ring, 1), [(3, -libc::EOPNOTSUPP)]);
        ring.scope(|s| assert_send_refused(s, &socket, &a, "a drain the kernel refused"));
        // Both flags on one SQE.
        let mut ring = Ring::new(8).unwrap();
        ring.push(
            Nop::new()
                .flags(SqeFlags::IO_DRAIN | SqeFlags::CQE_SKIP_SUCCESS)
                .user_data(4),
        )
        .unwrap();
        assert_eq!(reap(&mut ring, 1), [(4, -libc::EOPNOTSUPP)]);
        ring.scope(|s| assert_send_refused(s, &socket, &a, "both flags outside a scope"));
        // Drains off, no drain taken.
        let mut ring = Ring::new(8).unwrap();
        ring.push(Nop::new().flags(SqeFlags::CQE_SKIP_SUCCESS).user_data(5))
            .unwrap();
        ring.submit().unwrap();
        ring.scope(|s| {
            s.push(SendZc::new(&socket, &a).user_data(6).link(drained_nop(7)))
                .unwrap();
            let got = gather(s, &[6, 7]);
            assert_eq!(of(&got.seen, 6), sent(12), "{got:?}");
            assert_eq!(of(&got.seen, 7), [(-libc::EINVAL, 0)], "{got:?}");
            expected.extend_from_slice(&a);
            s.push(SendZc::new(&socket, &b).user_data(8)).unwrap();
            assert_eq!(of(&gather(s, &[8]).seen, 8), sent(12));
            expected.extend_from_slice(&b);
            s.push(drained_nop(9)).unwrap();
            assert_eq!(gather(s, &[9]).seen, [(9, -libc::EOPNOTSUPP, 0)]);
            assert_send_refused(s, &socket, &a, "a drained NOP the kernel refused");
        });
        assert_eq!(
            ring.completions().count(),
            0,
            "the skipped NOP posted nothing"
        );
        drop(socket);
        uring_tests::net::assert_kernel_bytes(&peer.received(), &expected, "the sends that ran");
    });
}

const TINY: &str = "a_push_that_does_not_fit_notes_no_drain";

/// A drained chain refused for want of room (two SQEs on a ring of one,
/// as an op chain or a `Linked`) writes nothing and notes no drain: a
/// lone zero-copy send then runs. On a ring of two, a send with a drained
/// NOP after it runs (the NOP fails, losing its flag) and the next send
/// runs too; a drained NOP with a send after it fails the send, and the
/// ring takes no more. A drained NOP alone on a ring of one is noted.
#[test]
fn a_push_that_does_not_fit_notes_no_drain() {
    own_process(TINY, || {
        let (socket, peer) = tcp_pair();
        let a = uring_tests::pattern(16, 18);
        let mut expected = Vec::new();
        let mut one = Ring::new(1).unwrap();
        one.scope(|s| {
            let full = s
                .push(Nop::new().user_data(1).link(drained_nop(2)))
                .unwrap_err();
            assert_eq!(full.kind(), PushErrorKind::QueueFull);
            let full = s
                .push_linked(Linked::new(vec![drained_nop(1), drained_nop(2)]))
                .unwrap_err();
            assert_eq!(full.kind(), PushErrorKind::QueueFull);
            assert_eq!(s.space_left(), 1);
            s.push(SendZc::new(&socket, &a).user_data(3)).unwrap();
            assert_eq!(of(&gather(s, &[3]).seen, 3), sent(16));
            expected.extend_from_slice(&a);
            s.push(drained_nop(4)).unwrap();
            assert_eq!(gather(s, &[4]).seen, [(4, 0, 0)]);
            assert_eq!(
                s.push(SendZc::new(&socket, &a).user_data(5))
                    .unwrap_err()
                    .kind(),
                PushErrorKind::AfterDrain
            );
        });
        let mut two = Ring::new(2).unwrap();
        two.scope(|s| {
            s.push(SendZc::new(&socket, &a).user_data(6).link(drained_nop(7)))
                .unwrap();
            let got = gather(s, &[6, 7]);
            assert_eq!(of(&got.seen, 6), sent(16), "{got:?}");
            assert_eq!(of(&got.seen, 7), [(-libc::EINVAL, 0)], "{got:?}");
            expected.extend_from_slice(&a);
            s.push(SendZc::new(&socket, &a).user_data(8)).unwrap();
            assert_eq!(of(&gather(s, &[8]).seen, 8), sent(16));
            expected.extend_from_slice(&a);
            s.push(drained_nop(9).link(SendZc::new(&socket, &a).user_data(10)))
                .unwrap();
            let got = gather(s, &[9, 10]);
            assert_eq!(got.seen, [(9, 0, 0), (10, -libc::EINVAL, 0)]);
            assert_send_refused(s, &socket, &a, "a ring of two");
        });
        drop(socket);
        uring_tests::net::assert_kernel_bytes(&peer.received(), &expected, "the sends that ran");
    });
}

/// Every chain of one to three SQEs over `Kind::ALL`, soft and hard, with
/// and without a trailing link timeout, each on a fresh ring from `make`
/// (every other one used outside scopes first): as [`run_chain_on`].
fn every_short_chain(what: &str, make: fn() -> Option<Ring>) {
    let Some(first) = make() else {
        return;
    };
    drop(first);
    let (socket, peer) = tcp_pair();
    let mut expected = Vec::new();
    let mut seed = 0u8;
    let mut n = 0;
    for hard in [false, true] {
        for lt in [false, true] {
            for kinds in sequences(3) {
                run_chain_on(
                    make().unwrap(),
                    &kinds,
                    hard,
                    lt,
                    n % 2 == 1,
                    &socket,
                    &mut seed,
                    &mut expected,
                );
                n += 1;
            }
        }
    }
    assert_eq!(n, 4 * 155, "{what}");
    drop(socket);
    uring_tests::net::assert_kernel_bytes(&peer.received(), &expected, what);
}

const KINDS: &str = "every_short_chain_runs_as_the_rule_says_on_every_kind_of_ring";

/// The chains of one to three SQEs (620 of them) on rings with deferred
/// task work, with cooperative task work, and with an SQ thread (where
/// this process may have one): each SQE completes as the rule says, the
/// ring notes a drain exactly when an SQE kept its flag, each send runs
/// once, in order.
#[test]
fn every_short_chain_runs_as_the_rule_says_on_every_kind_of_ring() {
    own_process(KINDS, || {
        every_short_chain("DEFER_TASKRUN", || uring_tests::defer_ring(8));
        every_short_chain("COOP_TASKRUN", || {
            Ring::builder().coop_taskrun().taskrun_flag().build(8).ok()
        });
        every_short_chain("SQPOLL", || uring_tests::sqpoll_ring(8));
    });
}

const IN_FLIGHT: &str = "many_sends_in_flight_when_a_drained_chain_comes_all_complete_first";

/// On one ring, in one scope, every chain of up to three SQEs whose
/// drains the rule takes off (sends run, none is held), pushed one after
/// another without waiting, their sends' notifications still coming;
/// then a drained chain: every send completes once, with its
/// notification, before the drained chain's first completion, and the
/// ring takes no send after it. The peer receives every send that ran,
/// once, in order.
#[test]
fn many_sends_in_flight_when_a_drained_chain_comes_all_complete_first() {
    own_process(IN_FLIGHT, || {
        let (socket, peer) = tcp_pair();
        let chains: Vec<(Vec<Kind>, bool)> = [false, true]
            .into_iter()
            .flat_map(|hard| {
                sequences(3)
                    .into_iter()
                    .filter(move |k| !expect(k, hard, false, 8).kept)
                    .map(move |k| (k, hard))
            })
            .collect();
        // Each send's eight bytes name its chain and place in it.
        let bufs: Vec<Vec<Vec<u8>>> = (0..chains.len())
            .map(|c| {
                (0..4)
                    .map(|i| {
                        let mut b = uring_tests::pattern(8, (c * 4 + i) as u8);
                        b[..2].copy_from_slice(&(c as u16).to_le_bytes());
                        b[2] = i as u8;
                        b
                    })
                    .collect()
            })
            .collect();
        let iovs: Vec<Vec<[IoSlice<'_>; 1]>> = bufs
            .iter()
            .map(|b| b.iter().map(|x| [IoSlice::new(x)]).collect())
            .collect();
        let msgs: Vec<Vec<MsgHdr<'_>>> = iovs
            .iter()
            .map(|i| i.iter().map(|x| MsgHdr::new(x)).collect())
            .collect();
        let mut expected = Vec::new();
        // Where each ring's sends start in what the peer gets: a ring's
        // sends all complete before the next ring's begin.
        let mut passes = Vec::new();
        for used in [false, true] {
            passes.push(expected.len());
            let mut ring = if used {
                used_ring(64)
            } else {
                Ring::new(64).unwrap()
            };
            ring.scope(|s| {
                let mut all = Got::default();
                let mut want_count = 0;
                for (c, (kinds, hard)) in chains.iter().enumerate() {
                    // Room in the scope: read what completed, waiting only
                    // while many ops are in flight.
                    while s.in_flight() > 32 {
                        s.submit().unwrap();
                        let _ = s.wait_timeout(1, Duration::from_millis(10));
                        read_ready(s, &mut all);
                    }
                    let parts = Parts {
                        socket: &socket,
                        bufs: &bufs[c],
                        msgs: &msgs[c],
                        hard: *hard,
                        lt: false,
                    };
                    let want = expect(kinds, *hard, false, 8);
                    push_chain(s, kinds, &parts);
                    want_count += want.per.iter().map(Vec::len).sum::<usize>();
                    for &i in &want.ran {
                        expected.extend_from_slice(&bufs[c][i]);
                    }
                    s.submit().unwrap();
                    read_ready(s, &mut all);
                }
                s.push(Nop::new().user_data(98).link(drained_nop(99)))
                    .unwrap();
                while s.in_flight() > 0 {
                    s.submit().unwrap();
                    let _ = s.wait_timeout(1, Duration::from_millis(10));
                    read_ready(s, &mut all);
                }
                let drained_at = position(&all.seen, (98, 0, 0));
                let last_notif = all
                    .seen
                    .iter()
                    .rposition(|c| c.2 & IORING_CQE_F_NOTIF != 0)
                    .unwrap();
                assert!(drained_at > last_notif, "a send completed after the drain");
                assert_eq!(all.seen.len(), want_count + 2, "each completion once");
                assert_send_refused(s, &socket, &bufs[0][0], "after the drained chain");
            });
            assert_eq!(ring.completions().count(), 0);
        }
        drop(socket);
        let got = peer.received();
        assert_eq!(got.len(), expected.len(), "every send once: lengths");
        passes.push(expected.len());
        for w in passes.windows(2) {
            let r = w[0]..w[1];
            assert_sends_once_in_chain_order(&got[r.clone()], &expected[r]);
        }
    });
}

/// The sends of many chains in flight at once on one socket: the peer got
/// each send's eight bytes once, and a chain's sends in their order. (The
/// kernel orders a chain's sends; sends of chains in flight together may
/// interleave: one the socket could not take at once waits for room while
/// a later chain's goes.)
fn assert_sends_once_in_chain_order(got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "every send once: lengths");
    if uring_tests::under_valgrind() {
        // Memcheck takes what only the kernel wrote for uninitialised.
        return;
    }
    let units =
        |b: &[u8]| -> Vec<[u8; 8]> { b.chunks_exact(8).map(|u| u.try_into().unwrap()).collect() };
    let (got, want) = (units(got), units(want));
    let mut sorted = (got.clone(), want);
    sorted.0.sort_unstable();
    sorted.1.sort_unstable();
    assert!(sorted.0 == sorted.1, "every send, once");
    let mut last: std::collections::HashMap<u16, u8> = Default::default();
    for u in &got {
        let (chain, place) = (u16::from_le_bytes([u[0], u[1]]), u[2]);
        if let Some(before) = last.insert(chain, place) {
            assert!(before < place, "chain {chain}: send {place} after {before}");
        }
    }
}

// ---------------------------------------------------------------------
// The kernel's drain after the drained op: what a multishot op does.
// ---------------------------------------------------------------------

const HELD: &str = "an_op_after_a_drain_waits_for_a_multishot_poll_the_drain_deferred";

/// The kernel behaviour behind the reactor's hang: a drained 30 ms timeout
/// and a multishot poll of a pipe submitted together; the poll goes
/// through the drain's defer list and is issued once the timeout is done,
/// which leaves the drain on. A NOP pushed afterwards waits while the poll
/// lives (its wake-ups included), and completes only after the poll's
/// cancel ends it. A scope that ends with both in flight returns.
///
/// The drained op is a timeout, not a NOP: since 6.16 the kernel defers
/// what follows a drain while any older request is allocated, and a NOP
/// whose task work happened to run (and free it) before the poll's SQE was
/// read let the poll through at once and turned the drain off (one run in
/// a few hundred).
#[test]
fn an_op_after_a_drain_waits_for_a_multishot_poll_the_drain_deferred() {
    own_process(HELD, || {
        for ends_scope in [false, true] {
            let (pipe_rx, pipe_tx) = uring_tests::pipe();
            let mut ring = Ring::new(8).unwrap();
            ring.scope(|s| {
                s.push(
                    Timeout::new(Duration::from_millis(30))
                        .flags(SqeFlags::IO_DRAIN)
                        .user_data(1),
                )
                .unwrap();
                s.push(
                    PollAdd::new(&pipe_rx, PollEvents::IN)
                        .poll_flags(PollFlags::MULTI)
                        .user_data(2),
                )
                .unwrap();
                assert_eq!(gather(s, &[1]).seen, [(1, -libc::ETIME, 0)]);
                s.push(Nop::new().user_data(3)).unwrap();
                s.submit().unwrap();
                std::fs::File::from(pipe_tx.try_clone().unwrap())
                    .write_all(b"x")
                    .unwrap();
                let mut early = Got::default();
                let until = Instant::now() + Duration::from_millis(100);
                while Instant::now() < until {
                    let _ = s.wait_timeout(1, Duration::from_millis(10));
                    read_ready(s, &mut early);
                }
                assert_eq!(of(&early.seen, 3), [], "the NOP waits: {early:?}");
                assert!(
                    early
                        .seen
                        .iter()
                        .all(|c| c.0 == 2 && c.2 & IORING_CQE_F_MORE != 0),
                    "the poll woke and lives on: {early:?}"
                );
                if ends_scope {
                    return;
                }
                s.cancel_sync(
                    uring::SyncCancel::user_data(2),
                    Some(Duration::from_secs(5)),
                )
                .unwrap();
                let got = gather(s, &[2, 3]);
                let poll_end = got
                    .seen
                    .iter()
                    .position(|c| c.0 == 2 && c.2 & IORING_CQE_F_MORE == 0)
                    .unwrap();
                assert!(position(&got.seen, (3, 0, 0)) > poll_end, "{got:?}");
            });
            assert_eq!(ring.completions().count(), 0);
        }
    });
}

const RESTRICTED: &str = "a_drain_holds_the_scopes_cancel_requests_behind_the_ops_they_cancel";

/// A ring whose restrictions allow NOPs, reads, zero-copy sends, cancel
/// requests and `IO_DRAIN`, but no registration (so no synchronous
/// cancel).
fn restricted_ring() -> Ring {
    use uring::{Restriction, sys};
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_restrictions(&[
        Restriction::op::<Read<'_>>(),
        Restriction::op::<Nop>(),
        Restriction::opcode(sys::IORING_OP_SEND_ZC),
        Restriction::opcode(sys::IORING_OP_ASYNC_CANCEL),
        Restriction::sqe_flags_allowed(sys::IOSQE_IO_DRAIN),
    ])
    .unwrap();
    ring.enable().unwrap();
    ring
}

/// On a [`restricted_ring`], a scope that ends with a pipe read waiting
/// for input cancels it with a cancel request; behind a drained NOP, the
/// kernel holds that request until the read has ended, so the scope
/// returns only once the read got the bytes written later (without the
/// drain, the read is cancelled and takes nothing). The same with a
/// zero-copy send waiting for room on a full socket (pushed before the
/// drain): the scope returns once the peer has read, the send having
/// sent its bytes, once. The drain leaves a scope no way to end its ops
/// but their own end, or a synchronous cancel.
#[test]
fn a_drain_holds_the_scopes_cancel_requests_behind_the_ops_they_cancel() {
    own_process(RESTRICTED, || {
        for drained in [false, true] {
            let mut ring = restricted_ring();
            let (pipe_rx, pipe_tx) = uring_tests::pipe();
            let mut buf = [0u8; 4];
            // Drained, the scope waits for the read, which the writer ends
            // after a while; not drained, the writer writes only once the
            // scope has returned, however long its end took.
            let (scope_ended, ended) = std::sync::mpsc::channel::<()>();
            let writer = std::thread::spawn(move || {
                if drained {
                    std::thread::sleep(Duration::from_millis(200));
                } else {
                    ended.recv().unwrap();
                }
                let mut tx = std::fs::File::from(pipe_tx);
                // The read may be gone: the bytes then stay in the pipe.
                tx.write_all(b"late").unwrap();
                tx
            });
            ring.scope(|s| {
                s.push(Read::new(&pipe_rx, &mut buf[..]).user_data(1))
                    .unwrap();
                if drained {
                    s.push(drained_nop(2)).unwrap();
                }
                s.submit().unwrap();
            });
            scope_ended.send(()).unwrap_or(());
            let _tx = writer.join().unwrap();
            assert_eq!(ring.completions().count(), 0);
            if drained {
                assert_eq!(&buf, b"late", "the cancel waited for the read's end");
            } else {
                assert_eq!(buf, [0; 4], "the cancel ended the read");
            }
        }
        let a = uring_tests::pattern(40, 24);
        let (socket, rx) = uring_tests::tcp_pair();
        let (filler, filled) = uring_tests::net::fill_send_side(socket.as_fd());
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            Peer::spawn(rx).received()
        });
        let mut ring = restricted_ring();
        ring.scope(|s| {
            s.push(SendZc::new(&socket, &a).user_data(1)).unwrap();
            s.submit().unwrap();
            s.push(drained_nop(2)).unwrap();
            s.submit().unwrap();
        });
        assert_eq!(ring.completions().count(), 0);
        drop(filler);
        drop(socket);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), filled + 40, "the send sent its bytes");
        uring_tests::net::assert_kernel_bytes(&got[filled..], &a, "the send's bytes, once");
    });
}

const LINK_TIMEOUTS: &str = "link_timeouts_flagged_io_drain_are_screened_as_other_sqes";

/// A link timeout flagged `IO_DRAIN` is an SQE of its chain like any
/// other: after a send that runs it fails with `EINVAL` and loses the
/// flag (the send runs unbounded, the ring notes no drain and sends
/// again); so does a drained NOP after a send bounded by a link timeout;
/// before a send, the link timeout keeps its flag, the send fails, and
/// the ring takes no more.
#[test]
fn link_timeouts_flagged_io_drain_are_screened_as_other_sqes() {
    own_process(LINK_TIMEOUTS, || {
        let (socket, peer) = tcp_pair();
        let a = uring_tests::pattern(20, 70);
        let mut expected = Vec::new();
        let drained_timeout = |ud| {
            LinkTimeout::new(Duration::from_secs(10))
                .flags(SqeFlags::IO_DRAIN)
                .user_data(ud)
        };
        for used in [false, true] {
            let mut ring = if used {
                used_ring(8)
            } else {
                Ring::new(8).unwrap()
            };
            ring.scope(|s| {
                s.push(
                    SendZc::new(&socket, &a)
                        .user_data(1)
                        .link_timeout(drained_timeout(2)),
                )
                .unwrap();
                let got = gather(s, &[1, 2]);
                assert_eq!(of(&got.seen, 1), sent(20), "{got:?}");
                assert_eq!(of(&got.seen, 2), [(-libc::EINVAL, 0)], "{got:?}");
                expected.extend_from_slice(&a);
                s.push(
                    SendZc::new(&socket, &a)
                        .user_data(3)
                        .link_timeout(LinkTimeout::new(Duration::from_secs(10)).user_data(4))
                        .link(drained_nop(5)),
                )
                .unwrap();
                let got = gather(s, &[3, 4, 5]);
                assert_eq!(of(&got.seen, 3), sent(20), "{got:?}");
                assert_eq!(of(&got.seen, 4), [(-libc::ECANCELED, 0)], "{got:?}");
                assert_eq!(of(&got.seen, 5), [(-libc::EINVAL, 0)], "{got:?}");
                expected.extend_from_slice(&a);
                s.push(SendZc::new(&socket, &a).user_data(6)).unwrap();
                assert_eq!(of(&gather(s, &[6]).seen, 6), sent(20));
                expected.extend_from_slice(&a);
                s.push(
                    Nop::new()
                        .user_data(7)
                        .link_timeout(drained_timeout(8))
                        .link(SendZc::new(&socket, &a).user_data(9)),
                )
                .unwrap();
                let got = gather(s, &[7, 8, 9]);
                assert_eq!(of(&got.seen, 7), [(0, 0)], "{got:?}");
                assert_eq!(of(&got.seen, 8), [(-libc::ECANCELED, 0)], "{got:?}");
                assert_eq!(of(&got.seen, 9), [(-libc::EINVAL, 0)], "{got:?}");
                assert_send_refused(s, &socket, &a, "after a drained link timeout");
            });
        }
        drop(socket);
        uring_tests::net::assert_kernel_bytes(&peer.received(), &expected, "the sends that ran");
    });
}

// ---------------------------------------------------------------------
// Chains of run-time length, owned buffers, one batch.
// ---------------------------------------------------------------------

/// Pushes `kinds` as a `Linked` chain (`user_data` 1, 2, ...): of
/// `SendZc` elements when every kind is a send, else of pairs, each a
/// NOP linked to a `SendZc` (soft or hard as `p.hard` says), `kinds`
/// alternating between the two.
fn push_linked_chain<'s, 'e: 's>(s: &mut Scope<'s, '_>, kinds: &[Kind], p: &Parts<'e>) {
    let pushed = if kinds.iter().all(|k| k.send()) {
        let sends: Vec<_> = kinds
            .iter()
            .enumerate()
            .map(|(i, &k)| send_of(k, i as u64 + 1, p))
            .collect();
        let chain = if p.hard {
            Linked::hard(sends)
        } else {
            Linked::new(sends)
        };
        s.push_linked(chain).map_err(|e| e.kind())
    } else {
        let pairs: Vec<_> = kinds
            .chunks(2)
            .enumerate()
            .map(|(i, pair)| {
                let ud = 2 * i as u64 + 1;
                nop_of(pair[0], ud).grow(send_of(pair[1], ud + 1, p), p.hard)
            })
            .collect();
        let chain = if p.hard {
            Linked::hard(pairs)
        } else {
            Linked::new(pairs)
        };
        s.push_linked(chain).map_err(|e| e.kind())
    };
    pushed.unwrap();
}

const LINKED: &str = "every_linked_chain_of_sends_and_drains_runs_as_the_rule_says";

/// `Linked` chains, soft and hard: of one to four `SendZc`, each flagged
/// `IO_DRAIN` or not (30 shapes), and of one to three pairs of a NOP and
/// a `SendZc`, each flagged or not (84 shapes); each on a fresh ring
/// (every other one used outside scopes). The rule holds across the
/// chain's elements as within one: each SQE completes as it says, the
/// ring notes a drain exactly when an SQE kept its flag (a lone send is
/// then handed back, else runs once), and the peer receives each send
/// that ran, once, in order.
#[test]
fn every_linked_chain_of_sends_and_drains_runs_as_the_rule_says() {
    own_process(LINKED, || {
        let (socket, peer) = tcp_pair();
        let mut expected = Vec::new();
        let mut seed = 0u8;
        let sends = [Kind::Send, Kind::DrainedSend];
        let nops = [Kind::Nop, Kind::DrainedNop];
        let mut shapes: Vec<Vec<Kind>> = sequences(4)
            .into_iter()
            .filter(|k| k.iter().all(|k| sends.contains(k)))
            .collect();
        let pairs: Vec<[Kind; 2]> = nops
            .iter()
            .flat_map(|&n| sends.iter().map(move |&s| [n, s]))
            .collect();
        let mut paired: Vec<Vec<Kind>> = vec![Vec::new()];
        for _ in 0..3 {
            paired = paired
                .iter()
                .flat_map(|seq| pairs.iter().map(move |pair| [&seq[..], &pair[..]].concat()))
                .collect();
            shapes.extend(paired.iter().cloned());
        }
        assert_eq!(shapes.len(), 30 + 84);
        let mut n = 0;
        for hard in [false, true] {
            for kinds in &shapes {
                run_linked_on(kinds, hard, n % 2 == 1, &socket, &mut seed, &mut expected);
                n += 1;
            }
        }
        drop(socket);
        uring_tests::net::assert_kernel_bytes(
            &peer.received(),
            &expected,
            "each send that ran, once, in order",
        );
    });
}

/// [`run_chain_on`] for a `Linked` chain ([`push_linked_chain`]) on a
/// fresh ring, without link timeout.
fn run_linked_on(
    kinds: &[Kind],
    hard: bool,
    used: bool,
    socket: &TcpStream,
    seed: &mut u8,
    expected: &mut Vec<u8>,
) {
    let len = 8;
    let bufs: Vec<Vec<u8>> = (0..kinds.len())
        .map(|_| {
            *seed = seed.wrapping_add(1);
            uring_tests::pattern(len, *seed)
        })
        .collect();
    let want = expect(kinds, hard, false, len);
    let mut ring = if used {
        used_ring(8)
    } else {
        Ring::new(8).unwrap()
    };
    let what = format!("Linked {kinds:?} (hard: {hard}, used ring: {used})");
    ring.scope(|s| {
        let parts = Parts {
            socket,
            bufs: &bufs,
            msgs: &[],
            hard,
            lt: false,
        };
        push_linked_chain(s, kinds, &parts);
        let uds: Vec<u64> = (1..=kinds.len() as u64).collect();
        let got = gather(s, &uds);
        for (i, per) in want.per.iter().enumerate() {
            assert_eq!(
                &of(&got.seen, uds[i]),
                per,
                "{what}, SQE {i}: {:?}",
                got.seen
            );
        }
        let count: usize = want.per.iter().map(Vec::len).sum();
        assert_eq!(got.seen.len(), count, "{what}: {:?}", got.seen);
        for &i in &want.ran {
            expected.extend_from_slice(&bufs[i]);
        }
        let probe = &bufs[0];
        match s.push(SendZc::new(socket, probe).user_data(PROBE_UD)) {
            Ok(()) => {
                assert!(!want.kept, "{what}: a send taken after a drain");
                assert_eq!(
                    of(&gather(s, &[PROBE_UD]).seen, PROBE_UD),
                    sent(len),
                    "{what}"
                );
                expected.extend_from_slice(probe);
            }
            Err(e) => {
                assert!(want.kept, "{what}: a send refused with no drain kept");
                assert_after_drain(&e, &what);
            }
        }
        assert_eq!(s.in_flight(), 0, "{what}");
    });
    assert_eq!(ring.completions().count(), 0, "{what}: nothing left behind");
}

/// Pushes over the owned buffer `buf` a zero-copy send of it (`user_data`
/// 1 or 2) linked with a drained NOP, the send first if `send_first`.
fn owned_chain<'b, 's: 'b>(
    socket: &'s TcpStream,
    buf: &'b mut [u8],
    p: uring::OwnedPush<'b, 's>,
    send_first: bool,
) {
    if send_first {
        p.push(SendZc::new(socket, buf).user_data(1).link(drained_nop(2)));
    } else {
        p.push(drained_nop(1).link(SendZc::new(socket, buf).user_data(2)));
    }
}

const OWNED: &str = "owned_buffers_in_chains_with_drains_come_back_once";

/// A buffer given to `push_owned`, sent by a zero-copy send in a chain
/// with a drained NOP: after the NOP, the send fails (`EINVAL`) and the
/// buffer comes back, untouched, with the chain's last completion, the
/// ring noting the drain; before the NOP, the send runs, the NOP fails
/// and loses its flag, the buffer comes back once, and the ring sends
/// again. The same through a scope's batch; there, a drained NOP then a
/// send in one batch: the send is handed back, and so is a buffer.
#[test]
fn owned_buffers_in_chains_with_drains_come_back_once() {
    own_process(OWNED, || {
        let (socket, peer) = tcp_pair();
        let owned = uring_tests::pattern(40, 80);
        let mut expected = Vec::new();
        for batch in [false, true] {
            for used in [false, true] {
                let mut ring = if used {
                    used_ring(8)
                } else {
                    Ring::new(8).unwrap()
                };
                ring.scope(|s| {
                    // The send first.
                    if batch {
                        s.submission()
                            .push_owned(owned.clone(), |b, p| owned_chain(&socket, b, p, true))
                            .unwrap();
                    } else {
                        s.push_owned(owned.clone(), |b, p| owned_chain(&socket, b, p, true))
                            .unwrap();
                    }
                    let got = gather(s, &[1, 2]);
                    assert_eq!(of(&got.seen, 1), sent(40), "{got:?}");
                    assert_eq!(of(&got.seen, 2), [(-libc::EINVAL, 0)], "{got:?}");
                    assert_eq!(got.bufs, [(2, owned.clone())], "the buffer, once");
                    expected.extend_from_slice(&owned);
                    // The drain first.
                    if batch {
                        s.submission()
                            .push_owned(owned.clone(), |b, p| owned_chain(&socket, b, p, false))
                            .unwrap();
                    } else {
                        s.push_owned(owned.clone(), |b, p| owned_chain(&socket, b, p, false))
                            .unwrap();
                    }
                    let got = gather(s, &[1, 2]);
                    assert_eq!(of(&got.seen, 1), [(0, 0)], "{got:?}");
                    assert_eq!(of(&got.seen, 2), [(-libc::EINVAL, 0)], "{got:?}");
                    assert_eq!(got.bufs, [(2, owned.clone())], "the buffer, once");
                    assert_send_refused(s, &socket, &owned, "after an owned drained chain");
                });
                assert_eq!(ring.completions().count(), 0);
            }
        }
        // One batch: a drained NOP, then sends.
        let mut ring = Ring::new(8).unwrap();
        ring.scope(|s| {
            let mut q = s.submission();
            q.push(drained_nop(3)).unwrap();
            let back = q
                .push(SendZc::new(&socket, &owned).user_data(4))
                .unwrap_err();
            assert_after_drain(&back, "a send after a drain in one batch");
            let back = q
                .push_owned(owned.clone(), |buf, p| p.push(SendZc::new(&socket, buf)))
                .unwrap_err();
            assert_after_drain(&back, "an owned send after a drain in one batch");
            assert_eq!(back.into_inner(), owned);
            drop(q);
            let (mut q, _) = s.split();
            let back = q
                .push(SendZc::new(&socket, &owned).user_data(5))
                .unwrap_err();
            assert_after_drain(&back, "a split queue after a drain");
            drop(q);
            assert_eq!(gather(s, &[3]).seen, [(3, 0, 0)]);
        });
        drop(socket);
        uring_tests::net::assert_kernel_bytes(&peer.received(), &expected, "the sends that ran");
    });
}
