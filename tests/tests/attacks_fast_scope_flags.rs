//! Attacks on how a fast scope (a scope of a clean ring, which leaves most
//! ops untagged and counts them done at their completions) reads the flags
//! of a completion: every way safe code has to make the kernel post, for an
//! op the scope did not tag, a completion flagged `IORING_CQE_F_NOTIF` or
//! `IORING_CQE_F_SKIP`, or a second completion after one not flagged
//! `IORING_CQE_F_MORE`. Any of them, counted as an untagged op's end, would
//! let the scope return while a read it lent a buffer to is still in the
//! kernel's hands. Debug builds assert that neither flag reaches an
//! untagged op (`ScopeTable::settle_untagged_op`): a panic there fails the
//! test.
//!
//! Each test keeps a read of a pipe into a canary buffer in flight beside
//! the ops under attack, and checks that the scope counts it until the
//! bytes written to the pipe arrive (or, left to the scope's end, that the
//! read was cancelled before the scope returned, and nothing written to
//! the pipe afterwards reaches the canary). Zero-copy sends in every place
//! of a chain and every way to fail them, multishot ops and the ways they
//! end, messages of every kind from inside and outside scopes, rings of
//! every setup and entry size, NOPs with every option, and updates that
//! would make a one-shot op post more: each asserts the completions the
//! kernel really posted, op by op.
//!
//! Not reachable from safe code (compile errors, so not tested here): a
//! scope on a ring of mixed CQEs (`CqeMixed`, whose big completions the
//! kernel pads with `IORING_CQE_F_SKIP` entries at the CQ's end), and a
//! message aimed at a ring while its scope holds it. (Linux 6.18 pads a
//! plain ring too, for a message passing `IORING_CQE_F_32`: only a ring
//! that was named as a target, whose scopes tag every op.)

use std::io::{IoSlice, Read as _, Write as _};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, SendMsgZc, SendZc, SendZcV};
use uring::sys::{IORING_CQE_F_MORE, IORING_CQE_F_NOTIF, IORING_CQE_F_SKIP};
use uring::{MsgHdr, Ring, Scope, SqeSize, UniformCqe};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{pipe, require_kernel, tcp_pair};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// The `user_data` of the read kept in flight in every scope here.
const CANARY: u64 = 0xca;

/// What fills the canary buffer before the read.
const UNTOUCHED: u8 = 0xa5;

/// What a completion said: `user_data`, `res`, `flags`, and whether it is
/// one of the scope's ops.
type Seen = (u64, i32, u32, bool);

/// Reads what the scope has, as [`Seen`]s.
fn read_all<S: SqeSize, C: UniformCqe>(s: &mut Scope<'_, '_, S, C>, into: &mut Vec<Seen>) {
    for c in s.completions() {
        let cqe = c.cqe();
        let cqe = cqe.as_ref();
        into.push((cqe.user_data(), cqe.res(), cqe.flags(), c.is_scope_op()));
    }
}

/// Submits and reads completions until `done` holds of them (within ten
/// seconds), then waits a little longer for anything that follows.
fn collect_until<S: SqeSize, C: UniformCqe>(
    s: &mut Scope<'_, '_, S, C>,
    mut done: impl FnMut(&[Seen]) -> bool,
) -> Vec<Seen> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&seen) {
        assert!(Instant::now() < deadline, "completions missing: {seen:?}");
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(10));
        read_all(s, &mut seen);
    }
    // What else comes soon after: a notification would.
    std::thread::sleep(Duration::from_millis(20));
    let _ = s.submit_and_wait_timeout(1, Duration::from_millis(20));
    read_all(s, &mut seen);
    seen
}

/// Whether every `user_data` of `uds` has posted its last completion among
/// `seen`: one not flagged `IORING_CQE_F_MORE`.
fn all_ended(seen: &[Seen], uds: &[u64]) -> bool {
    uds.iter().all(|&ud| {
        seen.iter()
            .any(|&(u, _, flags, _)| u == ud && flags & IORING_CQE_F_MORE == 0)
    })
}

/// The completions of `ud` among `seen`, as `(res, flags)`.
fn of(seen: &[Seen], ud: u64) -> Vec<(i32, u32)> {
    seen.iter()
        .filter(|s| s.0 == ud)
        .map(|&(_, res, flags, _)| (res, flags))
        .collect()
}

/// Writes `bytes` to the pipe's write end.
fn write_pipe(tx: &OwnedFd, bytes: &[u8]) {
    std::fs::File::from(tx.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// With the canary read the only op of the scope left in flight, writes to
/// its pipe and reads its completion: the read must still be the scope's
/// to wait for, and end with the bytes written.
fn finish_canary<S: SqeSize, C: UniformCqe>(s: &mut Scope<'_, '_, S, C>, tx: &OwnedFd) {
    assert_eq!(s.in_flight(), 1, "the canary read is still in flight");
    write_pipe(tx, b"live");
    let seen = collect_until(s, |seen| !seen.is_empty());
    assert_eq!(seen, [(CANARY, 4, 0, true)], "the canary read's completion");
    assert_eq!(s.in_flight(), 0);
}

/// Checks the canary after a scope whose read [`finish_canary`] ended.
fn check_canary(buf: &[u8; 16]) {
    assert_kernel_bytes(&buf[..4], b"live", "the canary read");
    assert_eq!(buf[4..], [UNTOUCHED; 12], "nothing past what was read");
}

/// After a scope that left its canary read to the scope's end: bytes
/// written to the pipe now reach no buffer.
fn check_left_canary(buf: &[u8; 16], tx: &OwnedFd) {
    write_pipe(tx, b"late");
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        *buf, [UNTOUCHED; 16],
        "the read pushed in the scope wrote after the scope returned"
    );
}

/// Reads exactly `n` bytes from `rx`.
fn receive(rx: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    rx.read_exact(&mut got).unwrap();
    got
}

// ---------------------------------------------------------------------------
// Zero-copy sends.
// ---------------------------------------------------------------------------

/// Where a zero-copy send sits in its chain.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    Alone,
    Head,
    Middle,
    Tail,
}

/// How the chain fails, if it does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Failure {
    /// Nothing fails: the send runs.
    None,
    /// The NOP before the send fails (`-EIO`); with the send first, the NOP
    /// after it.
    Nop,
    /// The send fails when the kernel issues it (on a pipe: `-ENOTSOCK`).
    AtIssue,
    /// The kernel refuses the send at submission, after allocating its
    /// notification (`SendMsgZc` of more iovecs than it takes:
    /// `-EMSGSIZE`; the other kinds, given a pipe, as `AtIssue`).
    AtSubmission,
}

/// Which zero-copy send.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Send,
    SendMsg,
    Vectored,
}

/// Pushes the chain of `place` with the send of `kind` (user data 2) and
/// NOPs around it (1 before, 3 after), joined by hard links if `hard`.
#[allow(clippy::too_many_arguments)]
fn push_chain<'s>(
    s: &mut Scope<'s, '_>,
    kind: Kind,
    place: Place,
    failure: Failure,
    hard: bool,
    socket: &'s TcpStream,
    pipe_fd: &'s OwnedFd,
    msg: &'s MsgHdr<'s>,
    many: &'s MsgHdr<'s>,
    iovecs: &'s [IoSlice<'s>],
    data: &'s [u8],
) {
    // The send goes to the pipe where it must fail when issued (and where
    // only `SendMsgZc` can be refused at submission).
    let on_pipe =
        failure == Failure::AtIssue || (failure == Failure::AtSubmission && kind != Kind::SendMsg);
    let on: uring::Fd<'s> = if on_pipe {
        uring::Fd::from(pipe_fd)
    } else {
        uring::Fd::from(socket)
    };
    let fails = failure == Failure::Nop;
    let before = Nop::new()
        .result(if fails { -libc::EIO } else { 0 })
        .user_data(1);
    let after = Nop::new()
        .result(if fails && place == Place::Head {
            -libc::EIO
        } else {
            0
        })
        .user_data(3);
    let msg = if failure == Failure::AtSubmission {
        many
    } else {
        msg
    };
    macro_rules! with_send {
        ($send:expr) => {{
            let send = $send.user_data(2);
            let pushed = match (place, hard) {
                (Place::Alone, _) => s.push(send).map_err(|e| e.kind()),
                (Place::Head, false) => s.push(send.link(after)).map_err(|e| e.kind()),
                (Place::Head, true) => s.push(send.hard_link(after)).map_err(|e| e.kind()),
                (Place::Middle, false) => {
                    s.push(before.link(send).link(after)).map_err(|e| e.kind())
                }
                (Place::Middle, true) => s
                    .push(before.hard_link(send).hard_link(after))
                    .map_err(|e| e.kind()),
                (Place::Tail, false) => s.push(before.link(send)).map_err(|e| e.kind()),
                (Place::Tail, true) => s.push(before.hard_link(send)).map_err(|e| e.kind()),
            };
            pushed.unwrap();
        }};
    }
    match kind {
        Kind::Send => with_send!(SendZc::new(on, data)),
        Kind::SendMsg => with_send!(SendMsgZc::new(on, msg)),
        Kind::Vectored => with_send!(SendZcV::new(on, iovecs)),
    }
}

/// The completions each op of the chain of `place` posts when it fails by
/// `failure` (the send's user data is 2, the NOPs' 1 before it and 3 after
/// it), as Linux 6.18 posts them: a send that ran, or that failed with its
/// notification allocated other than through a failed link, completes
/// flagged `IORING_CQE_F_MORE` and then with its notification; one that a
/// failed link ended completes once (its notification, which the kernel
/// posts all the same, is the scope's to take in).
fn expected(place: Place, failure: Failure, hard: bool) -> Vec<(u64, Vec<(i32, u32)>)> {
    let more = IORING_CQE_F_MORE;
    let notif = (0, IORING_CQE_F_NOTIF);
    let ran = vec![(64, more), notif];
    let cancelled = vec![(-libc::ECANCELED, 0)];
    let first = matches!(place, Place::Alone | Place::Head);
    let send = match failure {
        Failure::None => ran.clone(),
        Failure::Nop if first || hard => ran.clone(),
        Failure::Nop => cancelled.clone(),
        Failure::AtIssue => vec![(-libc::ENOTSOCK, more), notif],
        // A member of a link refused at submission fails the whole link
        // with the link's failure path, which raises no `F_MORE`.
        Failure::AtSubmission if first => vec![(-libc::EMSGSIZE, more), notif],
        Failure::AtSubmission => vec![(-libc::EMSGSIZE, 0)],
    };
    let before = match failure {
        Failure::Nop => vec![(-libc::EIO, 0)],
        Failure::AtSubmission => cancelled.clone(),
        _ => vec![(0, 0)],
    };
    let after = match failure {
        Failure::Nop if place == Place::Head => vec![(-libc::EIO, 0)],
        Failure::None => vec![(0, 0)],
        Failure::AtSubmission => cancelled.clone(),
        _ if hard => vec![(0, 0)],
        _ => cancelled.clone(),
    };
    match place {
        Place::Alone => vec![(2, send)],
        Place::Head => vec![(2, send), (3, after)],
        Place::Middle => vec![(1, before), (2, send), (3, after)],
        Place::Tail => vec![(1, before), (2, send)],
    }
}

/// Zero-copy sends (`SendZc`, `SendMsgZc`, `SendZcV`) alone and first,
/// in the middle and last of chains, joined by soft and hard links, that
/// run, follow a NOP that fails, fail when issued, or are refused at
/// submission, one after another in one fast scope beside a pending read:
/// each op's completions are the kernel's (a send that ran, or failed
/// with its notification allocated outside a failed link, completes
/// flagged `IORING_CQE_F_MORE` and then with its notification; one that
/// a failed link ended completes once, its notification taken in by the
/// scope), no notification is counted as an untagged op's end, and the
/// read stays in flight until its bytes come.
#[test]
fn zero_copy_sends_in_every_place_of_a_chain_never_end_the_read() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    let vectored = uring_tests::kernel_version() >= (6, 17);
    if !vectored {
        uring_tests::skip("vectored zero-copy sends need Linux 6.17");
    }
    let (socket, mut peer) = tcp_pair();
    let (rx, tx) = pipe();
    let (_pipe_rx, pipe_tx) = pipe();
    let data = uring_tests::pattern(64, 3);
    let one = [IoSlice::new(&data)];
    let msg = MsgHdr::new(&one);
    let lots = vec![IoSlice::new(&data[..1]); 1025];
    let many = MsgHdr::new(&lots);
    let halves = [IoSlice::new(&data[..32]), IoSlice::new(&data[32..])];
    let mut canary = [UNTOUCHED; 16];
    let mut ring = Ring::new(16).unwrap();
    let mut sent = 0;
    ring.scope(|s| {
        assert!(!s.tags_every_op(), "a fresh ring's scope is fast");
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();
        let kinds: &[Kind] = if vectored {
            &[Kind::Send, Kind::SendMsg, Kind::Vectored]
        } else {
            &[Kind::Send, Kind::SendMsg]
        };
        for &kind in kinds {
            for place in [Place::Alone, Place::Head, Place::Middle, Place::Tail] {
                for hard in [false, true] {
                    if place == Place::Alone && hard {
                        continue;
                    }
                    for failure in [
                        Failure::None,
                        Failure::Nop,
                        Failure::AtIssue,
                        Failure::AtSubmission,
                    ] {
                        if place == Place::Alone && failure == Failure::Nop {
                            continue;
                        }
                        if failure == Failure::AtSubmission && kind != Kind::SendMsg {
                            continue;
                        }
                        push_chain(
                            s, kind, place, failure, hard, &socket, &pipe_tx, &msg, &many, &halves,
                            &data,
                        );
                        let want = expected(place, failure, hard);
                        let uds: Vec<u64> = want.iter().map(|w| w.0).collect();
                        let seen = collect_until(s, |seen| all_ended(seen, &uds));
                        let case = format!("{kind:?} {place:?}, hard {hard}, {failure:?}");
                        let got: Vec<_> = uds.iter().map(|&ud| (ud, of(&seen, ud))).collect();
                        assert_eq!(got, want, "{case}");
                        assert!(
                            seen.iter().all(|c| uds.contains(&c.0) && c.3),
                            "{case}: only the chain's completions: {seen:?}"
                        );
                        sent += want.iter().filter(|w| w.0 == 2 && w.1[0].0 == 64).count() * 64;
                        assert_eq!(s.in_flight(), 1, "{case}: the read is still in flight");
                    }
                }
            }
        }
        finish_canary(s, &tx);
    });
    check_canary(&canary);
    drop(socket);
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), sent, "the peer got each send that ran, once");
    assert!(got.chunks(64).all(|c| c == data), "and its bytes");
}

/// Zero-copy sends stuck on a full socket beside a pending read, ended
/// every way but by running: the scope's own cancel, a `Cancel` op, a
/// `CancelFd` of the socket, a link timeout, and the cancel of a read they
/// are linked after (softly: the send never starts; hard: it starts, and is
/// cancelled in turn). A send ended while it waited completes flagged
/// `IORING_CQE_F_MORE` and then with its notification; one its link
/// failed, once. The read stays the scope's to wait for throughout.
#[test]
fn zero_copy_sends_cancelled_while_they_wait_never_end_the_read() {
    use uring::ops::{Cancel, CancelFd, LinkTimeout};
    use uring::{CancelFlags, SqeFlags};
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 1, "zero-copy sends") {
        return;
    }
    let (socket, peer) = tcp_pair();
    let (_filler, filled) = uring_tests::net::fill_send_side(std::os::fd::AsFd::as_fd(&socket));
    assert!(filled > 0);
    let (rx, tx) = pipe();
    let (other_rx, _other_tx) = pipe();
    let data = uring_tests::pattern(64, 5);
    let one = [IoSlice::new(&data)];
    let msg = MsgHdr::new(&one);
    let mut canary = [UNTOUCHED; 16];
    let mut gate = [0u8; 4];
    let mut gate2 = [0u8; 4];
    let more = IORING_CQE_F_MORE;
    let notif = (0, IORING_CQE_F_NOTIF);
    let mut ring = Ring::new(16).unwrap();
    ring.scope(|s| {
        assert!(!s.tags_every_op());
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();
        // Stuck sends, then each ended.
        s.push(SendZc::new(&socket, &data).user_data(10)).unwrap();
        s.push(SendMsgZc::new(&socket, &msg).user_data(11)).unwrap();
        let bound = LinkTimeout::new(Duration::from_millis(5)).user_data(14);
        s.push(
            SendZc::new(&socket, &data)
                .user_data(13)
                .link_timeout(bound),
        )
        .map_err(|e| e.kind())
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // One request for the tagged send, one for any untagged op that may
        // carry the value (the read is one in flight).
        assert_eq!(s.cancel(10).unwrap(), 2);
        s.push(Cancel::new(11).user_data(12)).unwrap();
        let seen = collect_until(s, |seen| all_ended(seen, &[10, 11, 12, 13, 14]));
        assert_eq!(of(&seen, 10), [(-libc::ECANCELED, more), notif], "{seen:?}");
        assert_eq!(of(&seen, 11), [(-libc::ECANCELED, more), notif], "{seen:?}");
        assert_eq!(of(&seen, 12), [(0, 0)], "the cancel op");
        assert_eq!(of(&seen, 13), [(-libc::ECANCELED, more), notif], "{seen:?}");
        assert_eq!(of(&seen, 14), [(-libc::ETIME, 0)], "the link timeout");
        assert_eq!(seen.len(), 8, "nothing else: {seen:?}");
        assert_eq!(s.in_flight(), 1);

        // Linked after a read that is cancelled: softly, the send never
        // starts; hard, it starts, waits, and is cancelled in turn (with
        // every op on the socket, by a `CancelFd`). The socket is filled
        // again first: it may have grown its buffer meanwhile.
        let (_filler2, _) = uring_tests::net::fill_send_side(std::os::fd::AsFd::as_fd(&socket));
        s.push(
            Read::new(&other_rx, &mut gate[..])
                .user_data(20)
                .link(SendZc::new(&socket, &data).user_data(21)),
        )
        .unwrap();
        s.push(
            Read::new(&other_rx, &mut gate2[..])
                .user_data(22)
                .hard_link(SendMsgZc::new(&socket, &msg).user_data(23)),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        // The reads share their chains' tags (a chain with a zero-copy send
        // is tagged whole); the canary read is untagged.
        assert_eq!(s.cancel(20).unwrap(), 2);
        assert_eq!(s.cancel(22).unwrap(), 2);
        let seen = collect_until(s, |seen| all_ended(seen, &[20, 21, 22]));
        assert_eq!(of(&seen, 20), [(-libc::ECANCELED, 0)]);
        assert_eq!(of(&seen, 21), [(-libc::ECANCELED, 0)], "{seen:?}");
        assert_eq!(of(&seen, 22), [(-libc::ECANCELED, 0)]);
        assert!(
            of(&seen, 23).is_empty(),
            "the hard-linked send waits: {seen:?}"
        );
        assert_eq!(seen.len(), 3, "nothing else: {seen:?}");
        assert_eq!(s.in_flight(), 2, "the read and the waiting send");
        s.push(
            CancelFd::new(&socket)
                .cancel_flags(CancelFlags::ALL)
                .flags(SqeFlags::ASYNC)
                .user_data(24),
        )
        .unwrap();
        let seen = collect_until(s, |seen| all_ended(seen, &[23, 24]));
        assert_eq!(of(&seen, 23), [(-libc::ECANCELED, more), notif], "{seen:?}");
        assert_eq!(of(&seen, 24), [(1, 0)], "one op on the socket cancelled");
        assert_eq!(seen.len(), 3, "nothing else: {seen:?}");
        finish_canary(s, &tx);
    });
    check_canary(&canary);
    assert_eq!(gate, [0; 4]);
    assert_eq!(gate2, [0; 4]);
    drop(peer);
}

/// An `IO_DRAIN` barrier pushed after zero-copy sends, behind a pending
/// read: the barrier waits for the read and for the sends' notifications
/// (a send that ran, and one its failed link ended, whose notification the
/// scope takes in), and the canary read pushed behind the barrier stays in
/// flight until its own bytes come. Nothing is counted twice on the way.
#[test]
fn a_drain_after_zero_copy_sends_waits_for_their_notifications() {
    use uring::SqeFlags;
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 10, "a NOP that fails (IORING_NOP_INJECT_RESULT)") {
        return;
    }
    let (socket, mut peer) = tcp_pair();
    let (gate_rx, gate_tx) = pipe();
    let (rx, tx) = pipe();
    let data = uring_tests::pattern(64, 9);
    let mut gate = [0u8; 4];
    let mut canary = [UNTOUCHED; 16];
    let more = IORING_CQE_F_MORE;
    let notif = (0, IORING_CQE_F_NOTIF);
    let mut ring = Ring::new(16).unwrap();
    ring.scope(|s| {
        assert!(!s.tags_every_op());
        s.push(Read::new(&gate_rx, &mut gate[..]).user_data(30))
            .unwrap();
        s.push(SendZc::new(&socket, &data).user_data(31)).unwrap();
        s.push(
            Nop::new()
                .result(-libc::EIO)
                .user_data(32)
                .link(SendZc::new(&socket, &data).user_data(33)),
        )
        .unwrap();
        s.push(Nop::new().flags(SqeFlags::IO_DRAIN).user_data(34))
            .unwrap();
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();
        let seen = collect_until(s, |seen| all_ended(seen, &[31, 32, 33]));
        assert_eq!(of(&seen, 31), [(64, more), notif], "{seen:?}");
        assert_eq!(of(&seen, 32), [(-libc::EIO, 0)]);
        assert_eq!(of(&seen, 33), [(-libc::ECANCELED, 0)], "{seen:?}");
        assert_eq!(seen.len(), 4, "the barrier holds: {seen:?}");
        assert_eq!(s.in_flight(), 3, "the gate, the barrier, the canary");
        write_pipe(&gate_tx, b"open");
        let seen = collect_until(s, |seen| all_ended(seen, &[30, 34]));
        assert_eq!(of(&seen, 30), [(4, 0)]);
        assert_eq!(of(&seen, 34), [(0, 0)]);
        assert_eq!(seen.len(), 2, "nothing else: {seen:?}");
        finish_canary(s, &tx);
    });
    check_canary(&canary);
    assert_eq!(&gate, b"open");
    assert_eq!(receive(&mut peer, 64), data, "the send that ran, once");
}

// A drain and zero-copy sends pushed after it: `drain_zero_copy.rs`.

// ---------------------------------------------------------------------------
// Multishot ops.
// ---------------------------------------------------------------------------

/// Multishot ops of every kind a fast scope tags, ended every way the
/// kernel ends them, beside a pending read: a multishot timeout at its
/// count and by a removal, a multishot receive at the end of its stream
/// and at its byte limit, a multishot read when its buffer group runs dry.
/// Each posts its completions flagged `IORING_CQE_F_MORE`, then exactly
/// one without; none of them ends the read, which stays the scope's to
/// wait for: the scope's end cancels it before the scope returns.
#[test]
fn multishot_ops_end_once_and_never_end_the_read() {
    use std::os::unix::net::UnixStream;
    use uring::ops::{ReadMultishot, Recv, Timeout, TimeoutRemove};
    use uring::sys::{IORING_CQE_BUFFER_SHIFT, IORING_CQE_F_BUFFER};
    use uring::{BufferGroup, RecvFlags, TimeoutFlags};
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 7, "multishot reads") {
        return;
    }
    let limits = uring_tests::kernel_version() >= (6, 17);
    let mut ring = Ring::new(16).unwrap();
    let Some(recv_pool) = uring_tests::plain_buf_ring(&mut ring, 1, 8, 64) else {
        return;
    };
    let Some(read_pool) = uring_tests::plain_buf_ring(&mut ring, 2, 2, 64) else {
        return;
    };
    let (rx, tx) = pipe();
    let (data_rx, data_tx) = pipe();
    let (a, mut b) = UnixStream::pair().unwrap();
    let (c, mut d) = UnixStream::pair().unwrap();
    let mut canary = [UNTOUCHED; 16];
    let more = IORING_CQE_F_MORE;
    let buf = |group_pos: u32| IORING_CQE_F_BUFFER | group_pos << IORING_CQE_BUFFER_SHIFT;
    ring.scope(|s| {
        assert!(!s.tags_every_op());
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();

        // A multishot timeout that ends at its count, and one a removal ends.
        s.push(
            Timeout::new(Duration::from_millis(1))
                .count(3)
                .timeout_flags(TimeoutFlags::MULTISHOT)
                .user_data(40),
        )
        .unwrap();
        let seen = collect_until(s, |seen| all_ended(seen, &[40]));
        let etime = -libc::ETIME;
        assert_eq!(of(&seen, 40), [(etime, more), (etime, more), (etime, 0)]);
        assert_eq!(seen.len(), 3);
        s.push(
            Timeout::new(Duration::from_millis(2))
                .timeout_flags(TimeoutFlags::MULTISHOT)
                .user_data(41),
        )
        .unwrap();
        let seen = collect_until(s, |seen| seen.len() >= 2);
        assert!(
            seen.iter().all(|&c| c == (41, etime, more, true)),
            "{seen:?}"
        );
        s.push(TimeoutRemove::new(41).user_data(42)).unwrap();
        let rest = collect_until(s, |seen| all_ended(seen, &[41, 42]));
        assert_eq!(of(&rest, 42), [(0, 0)], "the removal");
        let ends = of(&rest, 41);
        assert_eq!(ends.last(), Some(&(-libc::ECANCELED, 0)), "{rest:?}");
        assert!(ends[..ends.len() - 1].iter().all(|&c| c == (etime, more)));
        assert_eq!(s.in_flight(), 1);

        // A multishot receive that ends at the end of its stream.
        s.push(
            Recv::new(&a, recv_pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(43),
        )
        .unwrap();
        s.submit().unwrap();
        b.write_all(b"one").unwrap();
        let first = collect_until(s, |seen| !seen.is_empty());
        b.write_all(b"two!").unwrap();
        let second = collect_until(s, |seen| !seen.is_empty());
        b.shutdown(std::net::Shutdown::Write).unwrap();
        let last = collect_until(s, |seen| all_ended(seen, &[43]));
        assert_eq!(first, [(43, 3, more | buf(0), true)]);
        assert_eq!(second, [(43, 4, more | buf(1), true)]);
        assert_eq!(last, [(43, 0, 0, true)], "the end of the stream ends it");
        assert_eq!(s.in_flight(), 1);

        // One that ends at its byte limit.
        if limits {
            d.write_all(b"0123").unwrap();
            s.push(
                Recv::new(&c, recv_pool.select())
                    .recv_flags(RecvFlags::MULTISHOT)
                    .multishot_limit(6)
                    .user_data(44),
            )
            .unwrap();
            let first = collect_until(s, |seen| !seen.is_empty());
            d.write_all(b"456789").unwrap();
            let last = collect_until(s, |seen| all_ended(seen, &[44]));
            assert_eq!(first, [(44, 4, more | buf(2), true)]);
            assert_eq!(last, [(44, 6, buf(3), true)], "the limit reached ends it");
            assert_eq!(s.in_flight(), 1);
        } else {
            uring_tests::skip("multishot receive limits need Linux 6.17");
        }

        // A multishot read whose group of two buffers runs dry.
        s.push(ReadMultishot::new(&data_rx, BufferGroup::new(2)).user_data(45))
            .unwrap();
        s.submit().unwrap();
        let mut seen = Vec::new();
        for chunk in [&b"ab"[..], b"cde", b"f"] {
            write_pipe(&data_tx, chunk);
            seen.extend(collect_until(s, |seen| !seen.is_empty()));
        }
        let seen = if all_ended(&seen, &[45]) {
            seen
        } else {
            let mut all = seen;
            all.extend(collect_until(s, |seen| all_ended(seen, &[45])));
            all
        };
        assert_eq!(
            of(&seen, 45),
            [(2, more | buf(0)), (3, more | buf(1)), (-libc::ENOBUFS, 0)],
            "{seen:?}"
        );
        // The read is left to the scope's end, which must cancel it.
        assert_eq!(s.in_flight(), 1, "the canary read is still in flight");
    });
    check_left_canary(&canary, &tx);
    drop((recv_pool, read_pool));
}

// ---------------------------------------------------------------------------
// Messages.
// ---------------------------------------------------------------------------

/// Messages of every kind the public API sends, from a fast scope, to
/// another ring: data messages passing every completion flag (`F_MORE`,
/// `F_NOTIF`, `F_SKIP`, `F_32`, all of them) or none, one flagged
/// `CQE_SKIP` (which a data message may not be), and a registered file
/// passed into a slot the target picks. The sender's scope stays fast,
/// each message completes once on the sender without a flag, none reaches
/// the sender's CQ, and its read stays in flight; the target gets each as
/// posted, and its scopes tag every op from then on. The sender's next
/// scope is fast too: naming a target does not make the sender one.
#[test]
fn messages_of_every_kind_leave_the_sender_s_scope_fast() {
    use uring::ops::{MsgRing, MsgRingFd};
    use uring::sys::IORING_CQE_F_32;
    use uring::{MsgRingFlags, RingSlot};
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 3, "IORING_MSG_RING_FLAGS_PASS") {
        return;
    }
    let mut sender = Ring::new(16).unwrap();
    let mut target = Ring::builder().cq_entries(64).build(8).unwrap();
    let (file_rx, _file_tx) = pipe();
    let files = sender
        .register_files(&[std::os::fd::AsFd::as_fd(&file_rx)])
        .unwrap();
    let _target_files = target.register_files_sparse(4).unwrap();
    let flags = [
        None,
        Some(IORING_CQE_F_MORE),
        Some(IORING_CQE_F_NOTIF),
        Some(IORING_CQE_F_SKIP),
        Some(IORING_CQE_F_32),
        Some(IORING_CQE_F_32 | IORING_CQE_F_SKIP),
        Some(IORING_CQE_F_NOTIF | IORING_CQE_F_MORE),
        Some(u32::MAX),
    ];
    let (rx, tx) = pipe();
    let mut canary = [UNTOUCHED; 16];
    sender.scope(|s| {
        assert!(!s.tags_every_op(), "the sender is clean");
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();
        for (i, &f) in flags.iter().enumerate() {
            let i = i as u64;
            let msg = MsgRing::new(&target, 7, 100 + i).user_data(50 + i);
            match f {
                Some(f) => s.push(msg.cqe_flags(f)).unwrap(),
                None => s.push(msg).unwrap(),
            }
        }
        s.push(
            MsgRing::new(&target, 7, 200)
                .msg_ring_flags(MsgRingFlags::CQE_SKIP)
                .user_data(60),
        )
        .unwrap();
        let source = files.get(0).unwrap();
        s.push(MsgRingFd::new(RingSlot::alloc(&target), source, 300).user_data(61))
            .unwrap();
        let mut uds: Vec<u64> = (50..50 + flags.len() as u64).collect();
        uds.extend([60, 61]);
        let seen = collect_until(s, |seen| all_ended(seen, &uds));
        for i in 0..flags.len() as u64 {
            assert_eq!(of(&seen, 50 + i), [(0, 0)], "message {i}");
        }
        assert_eq!(
            of(&seen, 60),
            [(-libc::EINVAL, 0)],
            "a data message skips nothing"
        );
        assert_eq!(of(&seen, 61), [(0, 0)], "the file went to slot 0");
        assert_eq!(seen.len(), uds.len(), "nothing else: {seen:?}");
        finish_canary(s, &tx);
    });
    check_canary(&canary);
    let got: Vec<(u64, i32, u32)> = target
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect();
    let mut want: Vec<(u64, i32, u32)> = flags
        .iter()
        .enumerate()
        .map(|(i, f)| (100 + i as u64, 7, f.unwrap_or(0)))
        .collect();
    want.push((300, 0, 0));
    assert_eq!(got, want, "the target got each message as posted");
    // The target was named: its scopes tag every op. The sender's do not.
    target.scope(|s| assert!(s.tags_every_op()));
    sender.scope(|s| assert!(!s.tags_every_op(), "the sender is still clean"));
}

/// A message passing `IORING_CQE_F_32` to a ring of 16-byte CQEs whose
/// tail is at the CQ's last slot: Linux 6.18 takes the flag for a 32-byte
/// completion, which may not straddle the CQ's end, and pads that slot
/// with a completion of its own (`user_data` 0, flagged
/// `IORING_CQE_F_SKIP`) before the message, on a ring that is not of mixed
/// CQEs. Padding and message reach the target's scope (which tags every
/// op: the ring was named) as foreign completions, its read still in
/// flight; outside a scope, the ring shows both, one slot each.
#[test]
fn padding_the_kernel_posts_on_a_plain_ring_is_never_a_scope_op() {
    use uring::ops::MsgRing;
    use uring::sys::IORING_CQE_F_32;
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_CQE_F_SKIP") {
        return;
    }
    let mut sender = Ring::new(4).unwrap();
    let mut target = Ring::new(4).unwrap();
    let cq = target.cq_entries() as u64;
    let (rx, tx) = pipe();
    // Completions the target's CQ has taken.
    let mut posted = 0;
    for round in 0..2 {
        // The target's head and tail to its CQ's last slot.
        let nops = (cq - 1 - posted % cq) % cq;
        posted += nops + 2;
        target.scope(|s| {
            for i in 0..nops {
                s.push(Nop::new().user_data(i)).unwrap();
                s.submit_and_wait(1).unwrap();
                assert_eq!(s.completions().count(), 1);
            }
        });
        sender.scope(|s| {
            assert!(!s.tags_every_op());
            let msg = MsgRing::new(&target, 7, 55).cqe_flags(IORING_CQE_F_32);
            s.push(msg.user_data(1)).unwrap();
            let seen = collect_until(s, |seen| !seen.is_empty());
            assert_eq!(
                seen,
                [(1, 0, 0, true)],
                "round {round}: the sender's completion"
            );
        });
        let padding = (0, 0, IORING_CQE_F_SKIP);
        let message = (55, 7, IORING_CQE_F_32);
        if round == 0 {
            let mut canary = [UNTOUCHED; 16];
            target.scope(|s| {
                assert!(s.tags_every_op(), "the target was named");
                s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
                    .unwrap();
                let seen = collect_until(s, |seen| seen.len() >= 2);
                let foreign = [
                    (padding.0, padding.1, padding.2, false),
                    (message.0, message.1, message.2, false),
                ];
                assert_eq!(
                    seen, foreign,
                    "padding, then the message, neither the scope's"
                );
                finish_canary(s, &tx);
                posted += 1;
            });
            check_canary(&canary);
        } else {
            let got: Vec<_> = target
                .completions()
                .map(|c| (c.user_data(), c.res(), c.flags()))
                .collect();
            assert_eq!(got, [padding, message]);
        }
        assert_eq!(target.ready(), 0);
    }
}

// ---------------------------------------------------------------------------
// Rings of every setup and entry size; NOPs with every option.
// ---------------------------------------------------------------------------

/// The extra words of a 32-byte completion (none on a ring of 16-byte
/// CQEs).
type BigWords<C> = fn(&<C as uring::CqeSize>::Cqe) -> [u64; 2];

/// One round of a fast scope on `ring` (named `what` in messages) beside a
/// pending read: NOPs with every combination of their options (an
/// injected result, a 32-byte CQE, a registered-buffer lookup of an empty
/// slot, completion through task work), each linked to a NOP that its
/// failure cancels; NOPs that look up a file, open or not; and a
/// zero-copy send a failed NOP cancels, whose notification the kernel
/// posts after its only completion. Each completes as Linux 6.18 has it,
/// once, and the read stays in flight until its bytes come. `big` reads a
/// completion's extra words, which a ring of 32-byte CQEs carries.
fn nops_of_every_option<S: SqeSize, C: UniformCqe>(
    ring: &mut Ring<S, C>,
    big: BigWords<C>,
    what: &str,
) where
    Nop: uring::op::Submission<S>,
{
    use uring::ops::NopFile;
    let big_cqes = std::mem::size_of::<C::Cqe>() > 16;
    let buffers = ring.register_buffers_sparse(1).unwrap();
    let empty = buffers.get(0).unwrap();
    let (rx, tx) = pipe();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let data = [7u8; 16];
    let mut canary = [UNTOUCHED; 16];
    let cancelled = -libc::ECANCELED;
    ring.scope(|s| {
        assert!(!s.tags_every_op(), "{what}: a fresh ring's scope is fast");
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();
        let mut want: Vec<(u64, i32, [u64; 2])> = Vec::new();
        for combo in 0..16u64 {
            let (inject, big_cqe, lookup, task_work) = (
                combo & 1 != 0,
                combo & 2 != 0,
                combo & 4 != 0,
                combo & 8 != 0,
            );
            let words = [combo, !combo];
            let mut nop = Nop::new().user_data(combo).task_work(task_work);
            if inject {
                nop = nop.result(-libc::EIO - combo as i32);
            }
            if big_cqe {
                nop = nop.big_cqe(words);
            }
            if lookup {
                nop = nop.buffer(empty);
            }
            let mut chain = nop.link(Nop::new().user_data(100 + combo));
            while let Err(e) = s.push(chain) {
                assert_eq!(e.kind(), uring::PushErrorKind::QueueFull, "{what}");
                chain = e.into_inner();
                s.submit().unwrap();
            }
            let res = if big_cqe && !big_cqes {
                -libc::EINVAL
            } else if lookup {
                -libc::EFAULT
            } else if inject {
                -libc::EIO - combo as i32
            } else {
                0
            };
            let extra = if big_cqe && big_cqes { words } else { [0; 2] };
            want.push((combo, res, extra));
            want.push((100 + combo, if res < 0 { cancelled } else { 0 }, [0; 2]));
        }
        s.submit().unwrap();
        s.push(NopFile::new(&rx).user_data(20)).unwrap();
        s.push(
            NopFile::new(uring_tests::bad_fd())
                .user_data(21)
                .link(Nop::new().user_data(22)),
        )
        .unwrap();
        s.push(
            Nop::new()
                .result(-libc::EIO)
                .user_data(23)
                .link(SendZc::new(&a, &data).user_data(24)),
        )
        .unwrap();
        want.extend([
            (20, 0, [0; 2]),
            (21, -libc::EBADF, [0; 2]),
            (22, cancelled, [0; 2]),
            (23, -libc::EIO, [0; 2]),
            (24, cancelled, [0; 2]),
        ]);
        s.submit().unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < want.len() {
            assert!(
                Instant::now() < deadline,
                "{what}: completions missing: {got:?}"
            );
            let _ = s.wait_timeout(1, Duration::from_millis(10));
            for c in s.completions() {
                let cqe = c.cqe();
                let plain = cqe.as_ref();
                assert!(c.is_scope_op(), "{what}: {plain:?}");
                assert_eq!(plain.flags(), 0, "{what}: {plain:?}");
                got.push((plain.user_data(), plain.res(), big(&cqe)));
            }
        }
        // Time for the cancelled send's notification, which the scope
        // takes in.
        std::thread::sleep(Duration::from_millis(20));
        let _ = s.wait_timeout(1, Duration::from_millis(10));
        let mut late = Vec::new();
        read_all(s, &mut late);
        assert!(late.is_empty(), "{what}: nothing more: {late:?}");
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{what}");
        finish_canary(s, &tx);
    });
    check_canary(&canary);
}

/// A fast scope on rings of every setup the builder offers (CQ sizes,
/// clamped, submitting all, cooperative task work with and without its
/// flag, a single issuer, deferred task work, no SQ array, the ring in the
/// program's memory, registered descriptor only, an SQ thread, and a ring
/// created disabled and then enabled), each with NOPs of every option
/// beside a pending read (see [`nops_of_every_option`]). (Polled I/O is
/// not among them: it reads no pipe, so no read of one can stay pending.)
#[test]
fn rings_of_every_setup_count_each_untagged_op_once() {
    use uring::Builder;
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "NOPs with every option") {
        return;
    }
    let setups: Vec<(&str, Builder<'static>)> = vec![
        ("plain", Builder::new()),
        ("a larger CQ", Builder::new().cq_entries(256)),
        ("clamped", Builder::new().clamp()),
        ("submit all", Builder::new().submit_all()),
        ("cooperative task work", Builder::new().coop_taskrun()),
        (
            "cooperative task work, flagged",
            Builder::new().coop_taskrun().taskrun_flag(),
        ),
        ("single issuer", Builder::new().single_issuer()),
        (
            "deferred task work",
            Builder::new().single_issuer().defer_taskrun(),
        ),
        (
            "deferred task work, flagged",
            Builder::new()
                .single_issuer()
                .defer_taskrun()
                .taskrun_flag(),
        ),
        ("no SQ array", Builder::new().no_sqarray()),
        ("no mmap", Builder::new().no_mmap()),
        (
            "registered descriptor only",
            Builder::new().registered_fd_only(),
        ),
        (
            "SQ thread",
            Builder::new().sqpoll(Duration::from_millis(10)),
        ),
        ("disabled", Builder::new().r_disabled()),
    ];
    for (what, builder) in setups {
        let mut ring = match builder.build(32) {
            Ok(ring) => ring,
            Err(e) => {
                uring_tests::skip(format_args!("{what}: {e}"));
                continue;
            }
        };
        if what == "disabled" {
            ring.enable().unwrap();
        }
        nops_of_every_option(&mut ring, |_| [0; 2], what);
    }
}

/// The same on rings of every entry size: 128-byte SQEs, 32-byte CQEs
/// (where a NOP's 32-byte completion carries its words and no flag of a
/// mixed CQ), and both; with and without deferred task work.
#[test]
fn rings_of_every_entry_size_count_each_untagged_op_once() {
    use uring::{BigCqe, Builder, Cqe16, Cqe32, Sqe64, Sqe128};
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "NOPs with every option") {
        return;
    }
    let big: BigWords<Cqe32> = |c: &BigCqe| c.big_cqe();
    for defer in [false, true] {
        let builder = if defer {
            Builder::new().single_issuer().defer_taskrun()
        } else {
            Builder::new()
        };
        let mut a = builder.build_sized::<Sqe128, Cqe16>(32).unwrap();
        nops_of_every_option(&mut a, |_| [0; 2], "128-byte SQEs");
        let mut b = builder.build_sized::<Sqe64, Cqe32>(32).unwrap();
        nops_of_every_option(&mut b, big, "32-byte CQEs");
        let mut c = builder.build_sized::<Sqe128, Cqe32>(32).unwrap();
        nops_of_every_option(&mut c, big, "128-byte SQEs, 32-byte CQEs");
    }
}

// ---------------------------------------------------------------------------
// Ops that wait, and updates.
// ---------------------------------------------------------------------------

/// Ops that wait for something other than I/O, untagged in a fast scope
/// (futex waits, single and vectored, and a wait for a child) or tagged
/// (an epoll wait, a socket command), beside a pending read: each ends at
/// its one completion, the wakes at theirs, and the read stays in flight.
#[test]
fn waits_for_futexes_children_and_events_end_once() {
    use std::sync::atomic::AtomicU32;
    use uring::FutexFlags;
    use uring::ops::{EpollWait, FutexWait, FutexWaitv, FutexWake, SocketInq, WaitId};
    use uring::{FutexWaitV, WaitIdTarget};
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 15, "epoll waits") {
        return;
    }
    let word = AtomicU32::new(0);
    let other = AtomicU32::new(0);
    let waitv = [FutexWaitV::new(&other, 0, FutexFlags::PRIVATE)];
    #[allow(clippy::zombie_processes)] // reaped by the op
    let child = std::process::Command::new("true").spawn().unwrap();
    // SAFETY: all-zero bytes are a valid siginfo_t.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let (events_rx, events_tx) = pipe();
    let epoll = uring_tests::epoll_watching(std::os::fd::AsFd::as_fd(&events_rx), 9);
    write_pipe(&events_tx, b"e");
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let (mut b, a) = tcp_pair();
    b.write_all(b"abc").unwrap();
    let (rx, tx) = pipe();
    let mut canary = [UNTOUCHED; 16];
    let mut ring = Ring::new(16).unwrap();
    ring.scope(|s| {
        assert!(!s.tags_every_op());
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();
        s.push(
            FutexWait::new(&word, 0)
                .futex_flags(FutexFlags::PRIVATE)
                .user_data(70),
        )
        .unwrap();
        s.push(FutexWaitv::new(&waitv).user_data(71)).unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        s.push(
            FutexWake::new(&word, 1)
                .futex_flags(FutexFlags::PRIVATE)
                .user_data(72),
        )
        .unwrap();
        s.push(
            FutexWake::new(&other, 1)
                .futex_flags(FutexFlags::PRIVATE)
                .user_data(73),
        )
        .unwrap();
        s.push(
            WaitId::new(
                WaitIdTarget::pid(child.id() as i32),
                libc::WEXITED,
                &mut info,
            )
            .user_data(74),
        )
        .unwrap();
        s.push(EpollWait::new(&epoll, &mut events).user_data(75))
            .unwrap();
        s.push(SocketInq::new(&a).user_data(76)).unwrap();
        let uds = [70, 71, 72, 73, 74, 75, 76];
        let seen = collect_until(s, |seen| all_ended(seen, &uds));
        let results: Vec<_> = uds.iter().map(|&ud| (ud, of(&seen, ud))).collect();
        assert_eq!(
            results,
            [
                (70, vec![(0, 0)]),
                (71, vec![(0, 0)]),
                (72, vec![(1, 0)]),
                (73, vec![(1, 0)]),
                (74, vec![(0, 0)]),
                (75, vec![(1, 0)]),
                (76, vec![(3, 0)]),
            ]
        );
        assert_eq!(seen.len(), uds.len(), "nothing else: {seen:?}");
        finish_canary(s, &tx);
    });
    check_canary(&canary);
    assert_eq!(info.si_code, libc::CLD_EXITED, "the child's exit");
    let event = events[0];
    assert_eq!(
        ({ event.events } & libc::EPOLLIN as u32, { event.u64 }),
        (libc::EPOLLIN as u32, 9)
    );
}

/// Updates that would make an untagged one-shot op post more than once,
/// or rename it to a value shaped like a tag, in a fast scope beside a
/// pending read: a poll renamed to a tag-shaped value, a timeout updated
/// to be multishot and then updated plainly, and a link timeout moved
/// sooner. Each target op completes once, under the name the scope
/// reports, and the read stays in flight.
#[test]
fn updates_never_make_an_untagged_op_post_twice() {
    use uring::ops::{LinkTimeout, LinkTimeoutUpdate, PollAdd, PollUpdate, Timeout, TimeoutUpdate};
    use uring::{PollEvents, TimeoutFlags};
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 1, "poll, timeout and link timeout updates") {
        return;
    }
    let (poll_rx, poll_tx) = pipe();
    let (read_rx, _read_tx) = pipe();
    let (rx, tx) = pipe();
    let mut slow = [0u8; 4];
    let mut canary = [UNTOUCHED; 16];
    let mut ring = Ring::new(16).unwrap();
    ring.scope(|s| {
        assert!(!s.tags_every_op());
        s.push(Read::new(&rx, &mut canary[..]).user_data(CANARY))
            .unwrap();
        s.push(PollAdd::new(&poll_rx, PollEvents::IN).user_data(80))
            .unwrap();
        s.push(Timeout::new(Duration::from_secs(30)).user_data(82))
            .unwrap();
        s.push(
            Read::new(&read_rx, &mut slow[..])
                .user_data(85)
                .link_timeout(LinkTimeout::new(Duration::from_secs(30)).user_data(86)),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(10));
        s.push(
            PollUpdate::new(80)
                .new_user_data((1 << 63) | 5)
                .user_data(81),
        )
        .unwrap();
        s.push(
            TimeoutUpdate::new(82, Duration::from_millis(1))
                .timeout_flags(TimeoutFlags::MULTISHOT)
                .user_data(83),
        )
        .unwrap();
        let seen = collect_until(s, |seen| all_ended(seen, &[81, 83]));
        // The scope refuses both: a fast scope's poll may not take a name
        // that could pass for a tag, nor its timeout become multishot.
        assert_eq!(
            seen,
            [(81, -libc::EINVAL, 0, true), (83, -libc::EINVAL, 0, true)]
        );
        assert_eq!(
            s.in_flight(),
            5,
            "the canary, the poll, the timeout, the read and its bound"
        );
        s.push(TimeoutUpdate::new(82, Duration::from_millis(1)).user_data(84))
            .unwrap();
        s.push(LinkTimeoutUpdate::new(86, Duration::from_millis(1)).user_data(87))
            .unwrap();
        write_pipe(&poll_tx, b"p");
        let uds = [80, 82, 84, 85, 86, 87];
        let seen = collect_until(s, |seen| all_ended(seen, &uds));
        let results: Vec<_> = uds.iter().map(|&ud| (ud, of(&seen, ud))).collect();
        assert_eq!(
            results,
            [
                (80, vec![(libc::POLLIN as i32, 0)]),
                (82, vec![(-libc::ETIME, 0)]),
                (84, vec![(0, 0)]),
                (85, vec![(-libc::ECANCELED, 0)]),
                (86, vec![(-libc::ETIME, 0)]),
                (87, vec![(0, 0)]),
            ],
            "{seen:?}"
        );
        assert_eq!(seen.len(), uds.len(), "nothing else: {seen:?}");
        finish_canary(s, &tx);
    });
    check_canary(&canary);
}
