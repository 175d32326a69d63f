//! Attacks on cancellation, synchronous (`Ring::cancel_sync`,
//! `Scope::cancel_sync`, every `SyncCancel` key and combination) and
//! asynchronous (`Scope::cancel`, the `Cancel` op), from safe code.
//!
//! Whatever is cancelled, and however, a scope must end only once the
//! kernel is done with every buffer its ops borrowed, hand every op's last
//! completion out exactly once (or keep it at its end), hide its own cancel
//! requests, and give each owned buffer back once; a key that names nothing
//! of the ring, or names it wrongly, is an error value. So each case keeps
//! its buffers filled with a canary, writes into the files the ops read only
//! after the scope has returned, and checks that the bytes are still in the
//! file and the canaries still in the buffers; and counts completions by
//! `user_data`.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use uring::ops::{Cancel, LinkTimeout, Nop, PollAdd, Read, Recv, SendZc, Splice, Timeout};
use uring::{
    Either, Error, Features, PollEvents, PollFlags, Ring, Scope, SyncCancel, TimeoutFlags,
};
use uring_tests::{PATIENCE, require_kernel, watchdog};

/// What every lent buffer holds until the kernel writes into it.
const CANARY: u8 = 0xC5;

/// A time no test waits for.
const FAR: Duration = Duration::from_secs(600);

/// A `user_data` with the top bit set: a fast scope tags the op that carries
/// it, as it could pass for a tag.
const TOP: u64 = 1 << 63 | 3;

/// How long a check for completions that must not come waits.
const QUIET: Duration = Duration::from_millis(30);

/// A completion as the scope hands it out: `(user_data, res, flags)`.
type Seen = (u64, i32, u32);

/// Whether `result` is the kernel's `errno`.
fn is_errno(result: &uring::Result<()>, errno: i32) -> bool {
    matches!(result, Err(e) if e.raw_os_error() == Some(errno))
}

/// Whether the kernel matches by opcode and by `user_data` beside another
/// key (6.6); says why not otherwise.
fn combined_keys() -> bool {
    require_kernel(
        6,
        6,
        "IORING_ASYNC_CANCEL_OP and IORING_ASYNC_CANCEL_USERDATA",
    )
}

/// A ring of `entries` SQEs whose scopes tag every op (`tags`: an op was
/// pushed outside a scope) or only those they must (a clean ring, on a
/// kernel with `IORING_FEAT_REG_REG_RING`); `None` for the second where the
/// kernel cannot have it.
fn ring_of(entries: u32, tags: bool) -> Option<Ring> {
    let mut ring = Ring::new(entries).unwrap();
    if tags {
        ring.push(Nop::new().user_data(0xAAAA)).unwrap();
        let got = uring_tests::reap_sorted(&mut ring, 1);
        assert_eq!(got, [(0xAAAA, 0)]);
        return Some(ring);
    }
    if ring.params().has(Features::REG_REG_RING) {
        Some(ring)
    } else {
        uring_tests::skip("a scope that tags only some ops needs IORING_FEAT_REG_REG_RING (6.3)");
        None
    }
}

/// The bytes a pipe holds now, read without waiting.
fn held(read_end: &OwnedFd) -> Vec<u8> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one `int` through the pointer, which points to
    // `n`; the descriptor is open (borrowed).
    let rc = unsafe { libc::ioctl(read_end.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    let mut bytes = vec![0u8; n as usize];
    std::fs::File::from(read_end.try_clone().unwrap())
        .read_exact(&mut bytes)
        .unwrap();
    bytes
}

/// Writes `bytes` into a pipe's write end.
fn put(write_end: &OwnedFd, bytes: &[u8]) {
    std::fs::File::from(write_end.try_clone().unwrap())
        .write_all(bytes)
        .unwrap();
}

/// Waits until at least `n` last completions (not flagged
/// `IORING_CQE_F_MORE`) of the scope's ops have come, [`PATIENCE`] at most for each; returns every
/// completion read, with the owned buffers that came back by `user_data`.
fn reap_last(s: &mut Scope<'_, '_>, n: usize) -> (Vec<Seen>, Vec<(u64, Vec<u8>)>) {
    s.submit().unwrap();
    let mut seen = Vec::new();
    let mut bufs = Vec::new();
    let lasts = |seen: &[Seen]| {
        seen.iter()
            .filter(|c| c.2 & uring::sys::IORING_CQE_F_MORE == 0)
            .count()
    };
    while lasts(&seen) < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {seen:x?}"));
        for mut cqe in s.completions() {
            assert!(cqe.is_scope_op(), "a foreign completion: {:?}", cqe.cqe());
            if let Some(buf) = cqe.take_buf() {
                bufs.push((cqe.user_data(), buf));
            }
            seen.push((cqe.user_data(), cqe.res(), cqe.flags()));
        }
    }
    (seen, bufs)
}

/// What comes within [`QUIET`], submitting what is queued: a case that
/// expects nothing more asserts this is empty.
fn strays(s: &mut Scope<'_, '_>) -> Vec<Seen> {
    s.submit().unwrap();
    let _ = s.wait_timeout(1, QUIET);
    s.completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect()
}

/// The last completion of each `user_data`, asserting each came once.
fn lasts(seen: &[Seen]) -> BTreeMap<u64, i32> {
    let mut out = BTreeMap::new();
    for &(user_data, res, flags) in seen {
        if flags & uring::sys::IORING_CQE_F_MORE != 0 {
            continue;
        }
        if let Some(earlier) = out.insert(user_data, res) {
            panic!("{user_data:#x} completed twice: {earlier} and {res} ({seen:x?})");
        }
    }
    out
}

// ---------------------------------------------------------------------
// The menagerie: one of each kind of request a scope makes, every key.
// ---------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pipe {
    A,
    B,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Code {
    Read,
    Poll,
    Timeout,
    LinkTimeout,
    Cancel,
}

/// One request of the menagerie, as the kernel matches it.
#[derive(Clone, Copy, Debug)]
struct Member {
    user_data: u64,
    file: Option<Pipe>,
    code: Code,
    /// The `user_data` of the op its completion ends, when it is linked
    /// to one (a link timeout's head), and of the link timeout when it is
    /// the head.
    linked: Option<u64>,
}

const fn member(user_data: u64, file: Option<Pipe>, code: Code, linked: Option<u64>) -> Member {
    Member {
        user_data,
        file,
        code,
        linked,
    }
}

/// Every request of the menagerie: plain reads (left untagged by a fast
/// scope), one carrying a tag-shaped value, one carrying `u64::MAX` and one
/// 0, a read bounded by a link timeout, a multishot poll, a timeout, a read
/// over an owned buffer, and a poll pushed as one side of an `Either`.
const MEMBERS: [Member; 11] = [
    member(1, Some(Pipe::A), Code::Read, None),
    member(2, Some(Pipe::B), Code::Read, None),
    member(TOP, Some(Pipe::A), Code::Read, None),
    member(4, Some(Pipe::A), Code::Read, Some(5)),
    member(5, None, Code::LinkTimeout, Some(4)),
    member(6, Some(Pipe::B), Code::Poll, None),
    member(7, None, Code::Timeout, None),
    member(8, Some(Pipe::A), Code::Read, None),
    member(u64::MAX, Some(Pipe::B), Code::Read, None),
    member(0, Some(Pipe::B), Code::Read, None),
    member(11, Some(Pipe::A), Code::Poll, None),
];

/// The `user_data` of the read over an owned buffer.
const OWNED: u64 = 8;

/// A combination of keys; none at all is `any`.
#[derive(Clone, Copy, Debug)]
struct Key {
    file: Option<Pipe>,
    code: Option<Code>,
    user_data: Option<u64>,
    all: bool,
}

const fn key(file: Option<Pipe>, code: Option<Code>, user_data: Option<u64>, all: bool) -> Key {
    Key {
        file,
        code,
        user_data,
        all,
    }
}

impl Key {
    fn is_any(&self) -> bool {
        self.file.is_none() && self.code.is_none() && self.user_data.is_none()
    }

    fn matches(&self, m: &Member) -> bool {
        self.file.is_none_or(|f| m.file == Some(f))
            && self.code.is_none_or(|c| c == m.code)
            && self.user_data.is_none_or(|u| u == m.user_data)
    }

    /// Whether it needs the 6.6 keys.
    fn combined(&self) -> bool {
        self.code.is_some()
            || (self.user_data.is_some() && (self.file.is_some() || self.code.is_some()))
    }

    /// The `SyncCancel`: `user_data` first when there is one, then the
    /// descriptor, then the opcode.
    fn build<'a>(&self, a: BorrowedFd<'a>, b: BorrowedFd<'a>) -> SyncCancel<'a> {
        let fd = |p: Pipe| if p == Pipe::A { a } else { b };
        let mut k = match (self.user_data, self.file, self.code) {
            (None, None, None) => SyncCancel::any(),
            (Some(u), _, _) => SyncCancel::user_data(u),
            (None, Some(f), _) => SyncCancel::fd(fd(f)),
            (None, None, Some(_)) => with_op(SyncCancel::user_data(0), self.code.unwrap(), true),
        };
        if self.user_data.is_some()
            && let Some(f) = self.file
        {
            k = k.and_fd(fd(f));
        }
        if let Some(c) = self.code
            && (self.user_data.is_some() || self.file.is_some())
        {
            k = with_op(k, c, false);
        }
        if self.all { k.all() } else { k }
    }
}

/// `k` narrowed to the opcode `code`, or (`alone`) the key of that opcode
/// alone.
fn with_op(k: SyncCancel<'_>, code: Code, alone: bool) -> SyncCancel<'_> {
    match (code, alone) {
        (Code::Read, true) => SyncCancel::op::<Read<'_>>(),
        (Code::Poll, true) => SyncCancel::op::<PollAdd>(),
        (Code::Timeout, true) => SyncCancel::op::<Timeout>(),
        (Code::LinkTimeout, true) => SyncCancel::op::<LinkTimeout>(),
        (Code::Cancel, true) => SyncCancel::op::<Cancel>(),
        (Code::Read, false) => k.and_op::<Read<'_>>(),
        (Code::Poll, false) => k.and_op::<PollAdd>(),
        (Code::Timeout, false) => k.and_op::<Timeout>(),
        (Code::LinkTimeout, false) => k.and_op::<LinkTimeout>(),
        (Code::Cancel, false) => k.and_op::<Cancel>(),
    }
}

use Code as C;
use Pipe::{A, B};

/// The keys tried on the menagerie: each kind of request alone, the
/// scope's own kinds of request (its cancel requests, link timeouts,
/// timeouts), the files, values that are or look like tags, and
/// combinations, with and without `all`.
const KEYS: &[Key] = &[
    key(None, None, None, true),
    key(None, None, None, false),
    key(None, Some(C::Cancel), None, false),
    key(None, Some(C::Cancel), None, true),
    key(None, Some(C::LinkTimeout), None, true),
    key(None, Some(C::Timeout), None, false),
    key(None, Some(C::Poll), None, true),
    key(None, Some(C::Read), None, true),
    key(None, Some(C::Read), None, false),
    key(Some(A), None, None, true),
    key(Some(B), None, None, true),
    key(Some(B), None, None, false),
    key(Some(A), Some(C::Poll), None, true),
    key(None, None, Some(u64::MAX), false),
    key(None, None, Some(0), true),
    key(None, None, Some(TOP), false),
    key(None, None, Some(1 << 63), false),
    key(None, None, Some(1 << 63), true),
    key(None, None, Some(5), false),
    key(None, None, Some(7), false),
    key(None, None, Some(OWNED), false),
    key(None, None, Some(6), true),
    key(None, None, Some(11), false),
    key(None, None, Some(4), false),
    key(Some(B), None, Some(u64::MAX), false),
    key(Some(A), None, Some(u64::MAX), true),
    key(Some(A), None, Some(u64::MAX), false),
    key(None, Some(C::Read), Some(0), true),
    key(None, Some(C::Poll), Some(0), false),
    key(Some(A), Some(C::Read), Some(TOP), false),
    key(Some(A), Some(C::Read), Some(OWNED), true),
    key(None, Some(C::Timeout), Some(7), false),
    key(None, Some(C::LinkTimeout), Some(5), true),
    key(None, Some(C::Cancel), Some(42), true),
];

/// Whether the kernel finds `m` by a synchronous cancel at all. A link
/// timeout is not in the kernel's list of timeouts, which the cancel
/// searches: it ends with its head.
fn findable(m: &Member) -> bool {
    m.code != Code::LinkTimeout
}

/// The requests that end when those of `cancelled` are cancelled: they,
/// and the link timeouts of the heads among them.
fn ended_by(cancelled: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = cancelled.to_vec();
    for m in &MEMBERS {
        if let Some(head) = m.linked
            && m.code == Code::LinkTimeout
            && cancelled.contains(&head)
        {
            out.push(m.user_data);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Runs the menagerie in a scope of `ring`, cancels by `k`, and checks what
/// ended, what did not, and that nothing touches a buffer after the scope.
fn menagerie(ring: &mut Ring, k: &Key) {
    let what = format!("{k:?} (tags every op: {:?})", !ring_is_fast(ring));
    let (a, a_w) = uring_tests::pipe();
    let (b, b_w) = uring_tests::pipe();
    let mut bufs = [[CANARY; 8]; 6];
    let fast = ring_is_fast(ring);
    let sqpoll = ring
        .params()
        .setup_flags()
        .contains(uring::SetupFlags::SQPOLL);
    let matching: Vec<u64> = MEMBERS
        .iter()
        .filter(|m| (k.is_any() || k.matches(m)) && findable(m))
        .map(|m| m.user_data)
        .collect();
    let (result, seen, owned_back, left) = ring.scope(|s| {
        assert_eq!(s.tags_every_op(), !fast, "{what}");
        let [b1, b2, b3, b4, b5, b6] = &mut bufs;
        s.push(Read::new(&a, &mut b1[..]).user_data(1)).unwrap();
        s.push(Read::new(&b, &mut b2[..]).user_data(2)).unwrap();
        s.push(Read::new(&a, &mut b3[..]).user_data(TOP)).unwrap();
        s.push(
            Read::new(&a, &mut b4[..])
                .user_data(4)
                .link_timeout(LinkTimeout::new(FAR).user_data(5)),
        )
        .unwrap();
        s.push(
            PollAdd::new(&b, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(6),
        )
        .unwrap();
        s.push(Timeout::new(FAR).user_data(7)).unwrap();
        s.push_owned(vec![CANARY; 8], |buf, sq| {
            sq.push(Read::new(&a, buf).user_data(OWNED));
        })
        .unwrap();
        s.push(Read::new(&b, &mut b5[..]).user_data(u64::MAX))
            .unwrap();
        s.push(Read::new(&b, &mut b6[..]).user_data(0)).unwrap();
        s.push(Either::<Read<'_>, _>::Right(
            PollAdd::new(&a, PollEvents::IN).user_data(11),
        ))
        .unwrap();
        s.submit().unwrap();
        if sqpoll {
            wait_consumed(s);
        }
        assert_eq!(s.in_flight(), MEMBERS.len() as u32, "{what}");
        // A cancel request of the scope's own, queued and not yet
        // submitted while the key is tried: a fast scope asks the kernel
        // for the untagged ops carrying 42 (none), one that tags every
        // op finds none to ask for.
        assert_eq!(s.cancel(42).unwrap(), u32::from(fast), "{what}");
        let result = s.cancel_sync(k.build(a.as_fd(), b.as_fd()), Some(PATIENCE));
        let expected = if k.all || k.is_any() {
            matching.len()
        } else {
            matching.len().min(1)
        };
        // A cancelled head takes its link timeout along.
        let ended = if k.all || k.is_any() {
            ended_by(&matching).len()
        } else {
            expected
        };
        let (mut seen, owned_back) = reap_last(s, ended);
        // The head of a chain picked alone: its link timeout too.
        if !(k.all || k.is_any()) && lasts(&seen).contains_key(&4) && !lasts(&seen).contains_key(&5)
        {
            seen.extend(reap_last(s, 1).0);
        }
        seen.extend(strays(s));
        let left = s.in_flight();
        (result, seen, owned_back, left)
    });
    match &result {
        Ok(()) if !matching.is_empty() || k.all || k.is_any() => {}
        r if matching.is_empty() && is_errno(r, libc::ENOENT) => {}
        other => panic!("{what}: the cancel answered {other:?}; it matches {matching:x?}"),
    }
    let ended = lasts(&seen);
    let cancelled: Vec<u64> = ended.keys().copied().collect();
    for (&user_data, &res) in &ended {
        assert_eq!(
            res,
            -libc::ECANCELED,
            "{what}: {user_data:#x} ended otherwise than cancelled ({seen:x?})"
        );
    }
    if k.all || k.is_any() {
        assert_eq!(cancelled, ended_by(&matching), "{what}: {seen:x?}");
    } else {
        let picked: Vec<u64> = cancelled
            .iter()
            .copied()
            .filter(|u| matching.contains(u))
            .collect();
        assert_eq!(picked.len(), matching.len().min(1), "{what}: {seen:x?}");
        assert_eq!(cancelled, ended_by(&picked), "{what}: {seen:x?}");
    }
    // A multishot poll posts nothing before its last completion: no data
    // came.
    assert!(
        seen.iter()
            .all(|c| c.2 & uring::sys::IORING_CQE_F_MORE == 0),
        "{what}: {seen:x?}"
    );
    assert_eq!(
        left as usize,
        MEMBERS.len() - cancelled.len(),
        "{what}: the ops still in flight"
    );
    // The owned buffer came back once, with its last completion, untouched.
    if cancelled.contains(&OWNED) {
        assert_eq!(owned_back.len(), 1, "{what}");
        assert_eq!(owned_back[0], (OWNED, vec![CANARY; 8]), "{what}");
    } else {
        assert!(owned_back.is_empty(), "{what}");
    }
    // The scope cancelled the rest and waited: bytes written now reach no
    // buffer, and stay in the pipes.
    put(&a_w, b"late bytes for A");
    put(&b_w, b"late bytes for B");
    std::thread::sleep(QUIET);
    assert_eq!(bufs, [[CANARY; 8]; 6], "{what}");
    assert_eq!(held(&a), b"late bytes for A", "{what}");
    assert_eq!(held(&b), b"late bytes for B", "{what}");
    assert!(uring_tests::stray(ring).is_empty(), "{what}");
}

/// Whether `ring`'s next scope leaves some ops untagged.
fn ring_is_fast(ring: &mut Ring) -> bool {
    ring.scope(|s| !s.tags_every_op())
}

/// Waits until an SQ thread has taken every SQE of the scope (whose ring
/// has [`SQ_ENTRIES`] SQEs).
fn wait_consumed(s: &mut Scope<'_, '_>) {
    let end = std::time::Instant::now() + PATIENCE;
    while s.space_left() != SQ_ENTRIES {
        assert!(
            std::time::Instant::now() < end,
            "the SQ thread takes nothing"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The SQ size of the menagerie's rings.
const SQ_ENTRIES: u32 = 32;

/// [`menagerie`] with every key.
fn menagerie_on(mut ring: Ring) {
    for k in KEYS {
        if k.combined() && !combined_keys() {
            continue;
        }
        menagerie(&mut ring, k);
    }
}

/// Every key, alone and combined, over a fast scope's requests: its plain
/// ops (untagged), its tagged ones (a tag-shaped `user_data`, an owned
/// buffer, a multishot poll), a chain's link timeout, a timeout, an
/// `Either`, and a cancel request of its own queued meanwhile. Each ends
/// exactly the requests the key matches (one of them, without `all`), and
/// the scope ends with every read cancelled: nothing is read after it.
#[test]
fn every_key_over_a_fast_scope_s_own_requests() {
    let _watch = watchdog();
    if let Some(ring) = ring_of(SQ_ENTRIES, false) {
        menagerie_on(ring);
    }
}

/// The same in a scope that tags every op: the keys with a `user_data`
/// are translated to the tags of the ops carrying it.
#[test]
fn every_key_over_a_tagging_scope_s_own_requests() {
    let _watch = watchdog();
    if let Some(ring) = ring_of(SQ_ENTRIES, true) {
        menagerie_on(ring);
    }
}

/// The same on a ring with deferred task work (a single issuer): the
/// synchronous cancel runs the ring's task work itself.
#[test]
fn every_key_on_a_defer_taskrun_ring() {
    let _watch = watchdog();
    if let Some(ring) = uring_tests::defer_ring(SQ_ENTRIES) {
        menagerie_on(ring);
    }
}

/// The same on an SQPOLL ring, once its thread has taken the SQEs.
#[test]
fn every_key_on_an_sqpoll_ring() {
    let _watch = watchdog();
    if let Some(ring) = uring_tests::sqpoll_ring(SQ_ENTRIES) {
        menagerie_on(ring);
    }
}

// ---------------------------------------------------------------------
// Values that are, or were copied from, the scope's tags.
// ---------------------------------------------------------------------

/// The raw tag of a live op of the scope, as anyone may read it in
/// `/proc/self/fdinfo`: a multishot poll carrying `user_data` on a pipe
/// that holds a byte posts a completion flagged `IORING_CQE_F_MORE`, whose
/// tag the kernel shows until the scope reads it; the poll stays armed.
fn live_tag(s: &mut Scope<'_, '_>, ring_fd: i32, user_data: u64) -> u64 {
    s.submit_and_wait(1).unwrap();
    let shown = uring_tests::fdinfo_user_data(ring_fd);
    assert_eq!(shown.len(), 1, "{shown:x?}");
    let seen: Vec<Seen> = s
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect();
    assert_eq!(seen.len(), 1, "{seen:x?}");
    assert_eq!(seen[0].0, user_data);
    assert!(seen[0].2 & uring::sys::IORING_CQE_F_MORE != 0, "{seen:x?}");
    shown[0]
}

/// Cancels the poll carrying `user_data` and tagged `tag` with
/// `Scope::cancel`, and returns the raw value of the scope's own cancel
/// request, read in `/proc/self/fdinfo` beside the poll's last completion
/// before the scope reads them (it hides its request's).
fn internal_value(s: &mut Scope<'_, '_>, ring_fd: i32, user_data: u64, tag: u64) -> u64 {
    assert_eq!(s.cancel(user_data).unwrap(), 1);
    s.submit_and_wait(2).unwrap();
    let shown = uring_tests::fdinfo_user_data(ring_fd);
    assert_eq!(shown.len(), 2, "{shown:x?}");
    assert!(shown.contains(&tag), "{shown:x?} without {tag:#x}");
    let internal = shown.into_iter().find(|&u| u != tag).unwrap();
    let seen: Vec<Seen> = s
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect();
    assert_eq!(seen, [(user_data, -libc::ECANCELED, 0)]);
    internal
}

/// A program reads a live poll's raw tag in `/proc/self/fdinfo` and pushes
/// a read carrying that very value. `cancel_sync` by the value names the
/// op pushed with it (the read), never the op whose tag it is; once no op
/// carries it, the value goes to the kernel as it is, where it is only the
/// poll's tag: the poll is cancelled, and its last completion settles its
/// own slot, under its own `user_data`. The scope's own cancel request,
/// read there too, names nothing a synchronous cancel can find (`ENOENT`),
/// and a read pushed carrying its value is an op like any other.
#[test]
fn a_user_data_copied_from_a_tag_names_the_op_pushed_with_it() {
    let _watch = watchdog();
    if !combined_keys() {
        return;
    }
    for tags in [false, true] {
        let Some(mut ring) = ring_of(16, tags) else {
            continue;
        };
        let fd = ring.as_raw_fd();
        let (a, a_w) = uring_tests::pipe();
        let (b, b_w) = uring_tests::pipe();
        put(&b_w, b"!");
        let mut bufs = [[CANARY; 8]; 2];
        ring.scope(|s| {
            let [first, second] = &mut bufs;
            s.push(
                PollAdd::new(&b, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(TOP),
            )
            .unwrap();
            let tag = live_tag(s, fd, TOP);
            assert_ne!(tag, TOP, "the kernel sees a tag");
            assert!(tag & 1 << 63 != 0);
            s.push(Read::new(&a, &mut first[..]).user_data(tag))
                .unwrap();
            s.submit().unwrap();
            s.cancel_sync(SyncCancel::user_data(tag), Some(PATIENCE))
                .unwrap();
            let (seen, _) = reap_last(s, 1);
            assert_eq!(seen, [(tag, -libc::ECANCELED, 0)]);
            assert_eq!(s.in_flight(), 1, "the poll runs on");
            // No op of the scope carries the value now: it reaches the
            // kernel raw, as a key for ops pushed before the scope, and
            // there it is the poll's tag.
            let other = s.cancel_sync(
                SyncCancel::user_data(tag).and_op::<Read<'_>>(),
                Some(PATIENCE),
            );
            assert!(is_errno(&other, libc::ENOENT), "{other:?}");
            s.cancel_sync(SyncCancel::user_data(tag).and_fd(&b), Some(PATIENCE))
                .unwrap();
            let (seen, _) = reap_last(s, 1);
            assert_eq!(seen, [(TOP, -libc::ECANCELED, 0)]);
            assert_eq!(s.in_flight(), 0);
            // The scope's own cancel request, its value read likewise.
            s.push(
                PollAdd::new(&b, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(9),
            )
            .unwrap();
            let tag = live_tag(s, fd, 9);
            let internal = internal_value(s, fd, 9, tag);
            assert!(strays(s).is_empty(), "the cancel request's own is hidden");
            let gone = s.cancel_sync(SyncCancel::user_data(internal), Some(PATIENCE));
            assert!(is_errno(&gone, libc::ENOENT), "{gone:?}");
            s.cancel_sync(SyncCancel::user_data(internal).all(), Some(PATIENCE))
                .unwrap();
            // A read carrying it, cancelled by it: the scope's.
            s.push(Read::new(&a, &mut second[..]).user_data(internal))
                .unwrap();
            s.submit().unwrap();
            assert_eq!(s.cancel(internal).unwrap(), 1);
            let (seen, _) = reap_last(s, 1);
            assert_eq!(seen, [(internal, -libc::ECANCELED, 0)]);
            assert!(strays(s).is_empty());
            assert_eq!(s.in_flight(), 0);
        });
        put(&a_w, b"after");
        std::thread::sleep(QUIET);
        assert_eq!(bufs, [[CANARY; 8]; 2], "tags: {tags}");
        assert_eq!(held(&a), b"after");
        assert_eq!(held(&b), b"!");
    }
}

/// `Cancel` ops pushed in the scope, naming the scope's own cancel request
/// by its raw value (read in fdinfo), every `Cancel` by opcode, or
/// everything (`ANY`), leave the scope's bookkeeping whole: each user
/// request completes once under its own `user_data`, the scope's stay
/// hidden, and the reads end once each, cancelled.
#[test]
fn cancel_ops_aimed_at_the_scope_s_own_requests() {
    let _watch = watchdog();
    if !combined_keys() {
        return;
    }
    for tags in [false, true] {
        let Some(mut ring) = ring_of(16, tags) else {
            continue;
        };
        let fd = ring.as_raw_fd();
        let (a, a_w) = uring_tests::pipe();
        let (b, b_w) = uring_tests::pipe();
        put(&b_w, b"!");
        let mut bufs = [[CANARY; 8]; 3];
        ring.scope(|s| {
            let [x, y, z] = &mut bufs;
            s.push(
                PollAdd::new(&b, PollEvents::IN)
                    .poll_flags(PollFlags::MULTI)
                    .user_data(50),
            )
            .unwrap();
            let tag = live_tag(s, fd, 50);
            let internal = internal_value(s, fd, 50, tag);
            s.push(Read::new(&a, &mut x[..]).user_data(1)).unwrap();
            s.push(Read::new(&a, &mut y[..]).user_data(2)).unwrap();
            s.push(Read::new(&a, &mut z[..]).user_data(3)).unwrap();
            s.submit().unwrap();
            // The scope's cancel request for 1, queued; the user's after it
            // in the same submission: by the raw value the scope's requests
            // carry, and every cancel request by opcode.
            assert_eq!(s.cancel(1).unwrap(), 1);
            s.push(Cancel::new(internal).user_data(100)).unwrap();
            s.push(
                uring::ops::CancelOp::new(uring::CancelOpcode::of::<Cancel>())
                    .cancel_flags(uring::CancelFlags::ALL)
                    .user_data(101),
            )
            .unwrap();
            let (seen, _) = reap_last(s, 3);
            let got = lasts(&seen);
            assert_eq!(got.get(&1), Some(&-libc::ECANCELED), "{seen:x?}");
            assert_eq!(got.get(&100), Some(&-libc::ENOENT), "{seen:x?}");
            assert_eq!(got.get(&101), Some(&0), "no cancel request in flight");
            assert_eq!(got.len(), 3, "{seen:x?}");
            s.push(
                Cancel::new(0)
                    .cancel_flags(uring::CancelFlags::ANY)
                    .user_data(102),
            )
            .unwrap();
            let (seen, _) = reap_last(s, 3);
            let got = lasts(&seen);
            assert_eq!(got.get(&102), Some(&2), "{seen:x?}");
            assert_eq!(got.get(&2), Some(&-libc::ECANCELED), "{seen:x?}");
            assert_eq!(got.get(&3), Some(&-libc::ECANCELED), "{seen:x?}");
            assert!(strays(s).is_empty());
            assert_eq!(s.in_flight(), 0);
        });
        put(&a_w, b"after");
        std::thread::sleep(QUIET);
        assert_eq!(bufs, [[CANARY; 8]; 3], "tags: {tags}");
        assert_eq!(held(&a), b"after");
    }
}

// ---------------------------------------------------------------------
// `Scope::cancel` with no room.
// ---------------------------------------------------------------------

/// `Scope::cancel` needs a free SQ entry per request: with fewer, it hands
/// back an error and queues nothing (the ops stay in flight, the SQ as it
/// was); with room, it queues them, and asked again until it counts no
/// request, it leaves nothing carrying the value. A scope that tags every
/// op needs one request per op, so more ops carrying one value than the
/// SQ has entries can never be cancelled this way (an error each time, no
/// matter how empty the SQ is), while `cancel_sync` cancels them.
#[test]
fn scope_cancel_without_room_hands_back_an_error_and_queues_nothing() {
    let _watch = watchdog();
    for tags in [false, true] {
        let Some(mut ring) = ring_of(8, tags) else {
            continue;
        };
        assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 16));
        let (a, a_w) = uring_tests::pipe();
        let mut bufs = [[CANARY; 4]; 16];
        ring.scope(|s| {
            let (first, second) = bufs.split_at_mut(8);
            let (six, two) = second.split_at_mut(6);
            for buf in first.iter_mut() {
                s.push(Read::new(&a, &mut buf[..]).user_data(7)).unwrap();
            }
            assert_eq!(s.space_left(), 0);
            let full = s.cancel(7).unwrap_err();
            assert!(full.is_full(), "{full:?}");
            assert_eq!((s.space_left(), s.in_flight()), (0, 8));
            s.submit().unwrap();
            for buf in six.iter_mut() {
                s.push(Read::new(&a, &mut buf[..]).user_data(9)).unwrap();
            }
            assert_eq!(s.space_left(), 2);
            if tags {
                let full = s.cancel(7).unwrap_err();
                assert!(full.is_full(), "{full:?}");
                assert_eq!((s.space_left(), s.in_flight()), (2, 14));
            }
            s.submit().unwrap();
            // Every request queued, again and again until none is.
            let mut rounds = 0;
            let mut ended = Vec::new();
            loop {
                let queued = s.cancel(7).unwrap();
                if queued == 0 {
                    break;
                }
                rounds += 1;
                assert!(rounds < 10, "cancels of 7 go on: {ended:x?}");
                let want = if tags { queued as usize } else { 1 };
                let (seen, _) = reap_last(s, want);
                ended.extend(seen);
                if !tags && s.in_flight() == 6 {
                    // The untagged reads of 9 stay: a fast scope asks the
                    // kernel once more, and it finds none.
                    assert_eq!(s.cancel(7).unwrap(), 1);
                    s.submit().unwrap();
                    ended.extend(strays(s));
                    break;
                }
            }
            ended.extend(strays(s));
            let sevens = ended.iter().filter(|c| c.0 == 7).count();
            assert_eq!(sevens, 8, "{ended:x?}");
            assert!(ended.iter().all(|c| *c == (7, -libc::ECANCELED, 0)));
            assert_eq!(s.in_flight(), 6, "the reads of 9 run on");
            // Two more carrying 9: eight in all, the SQ's size.
            for buf in two.iter_mut() {
                s.push(Read::new(&a, &mut buf[..]).user_data(9)).unwrap();
            }
            s.submit().unwrap();
            assert_eq!(s.space_left(), 8);
            assert_eq!(s.cancel(9).unwrap(), if tags { 8 } else { 1 });
            let (seen, _) = reap_last(s, 8);
            assert!(
                seen.iter().all(|c| *c == (9, -libc::ECANCELED, 0)),
                "{seen:x?}"
            );
            assert!(strays(s).is_empty());
            assert_eq!(s.in_flight(), 0);
        });
        put(&a_w, b"after");
        std::thread::sleep(QUIET);
        assert_eq!(bufs, [[CANARY; 4]; 16], "tags: {tags}");
        assert_eq!(held(&a), b"after");
    }
}

/// Sixteen ops carrying one value in a scope that tags every op, on a ring
/// of eight SQEs: `Scope::cancel` needs sixteen requests and says the
/// queue is full, however empty it is, and queues nothing; `cancel_sync`
/// by the value, with `all`, cancels the sixteen.
#[test]
fn more_carriers_than_sq_entries() {
    let _watch = watchdog();
    let mut ring = ring_of(8, true).unwrap();
    let (a, a_w) = uring_tests::pipe();
    let mut bufs = [[CANARY; 4]; 16];
    ring.scope(|s| {
        let (first, second) = bufs.split_at_mut(8);
        for half in [first, second] {
            for buf in half.iter_mut() {
                s.push(Read::new(&a, &mut buf[..]).user_data(7)).unwrap();
            }
            s.submit().unwrap();
        }
        assert_eq!((s.space_left(), s.in_flight()), (8, 16));
        let full = s.push(Nop::new().user_data(1)).unwrap_err();
        assert_eq!(full.kind(), uring::PushErrorKind::ScopeFull);
        let refused = s.cancel(7).unwrap_err();
        assert!(refused.is_full(), "{refused:?}");
        assert_eq!((s.space_left(), s.in_flight()), (8, 16));
        s.cancel_sync(SyncCancel::user_data(7).all(), Some(PATIENCE))
            .unwrap();
        let (seen, _) = reap_last(s, 16);
        assert_eq!(seen.len(), 16);
        assert!(seen.iter().all(|c| *c == (7, -libc::ECANCELED, 0)));
        assert!(strays(s).is_empty());
        assert_eq!(s.cancel(7).unwrap(), 0);
    });
    put(&a_w, b"after");
    std::thread::sleep(QUIET);
    assert_eq!(bufs, [[CANARY; 4]; 16]);
    assert_eq!(held(&a), b"after");
}

// ---------------------------------------------------------------------
// Cancels racing completions, and many at once.
// ---------------------------------------------------------------------

/// Reads of one pipe each, pending, while another thread writes eight
/// bytes into every pipe in turn and `key` cancels them (with `timeout`):
/// each read ends exactly once, either with its pipe's eight bytes (in its
/// buffer, the pipe then empty) or cancelled (its buffer untouched, the
/// bytes still in the pipe). Nothing is lost or read twice.
fn cancels_racing_writes(ring: &mut Ring, key: SyncCancel<'_>, timeout: Option<Duration>) {
    const N: usize = 24;
    let what = format!("{key:?} with {timeout:?}");
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..N).map(|_| uring_tests::pipe()).collect();
    let sqpoll = ring
        .params()
        .setup_flags()
        .contains(uring::SetupFlags::SQPOLL);
    let mut bufs = [[CANARY; 8]; N];
    let writers: Vec<OwnedFd> = pipes.iter().map(|p| p.1.try_clone().unwrap()).collect();
    let start = std::sync::Barrier::new(2);
    let results = std::thread::scope(|t| {
        let writer = t.spawn(|| {
            start.wait();
            for (i, w) in writers.iter().enumerate().rev() {
                put(w, &uring_tests::pattern(8, i as u8));
                if i % 4 == 0 {
                    std::thread::yield_now();
                }
            }
        });
        ring.scope(|s| {
            for (i, (buf, (r, _))) in bufs.iter_mut().zip(&pipes).enumerate() {
                s.push(Read::new(r, &mut buf[..]).user_data(i as u64))
                    .unwrap();
            }
            s.submit().unwrap();
            if sqpoll {
                let end = std::time::Instant::now() + PATIENCE;
                while s.space_left() != SQ_ENTRIES {
                    assert!(std::time::Instant::now() < end);
                    std::thread::yield_now();
                }
            }
            start.wait();
            let first = s.cancel_sync(key, timeout);
            assert!(
                matches!(first, Ok(()) | Err(Error::TimedOut)),
                "{what}: {first:?}"
            );
            writer.join().unwrap();
            // Whatever is left, cancelled for good.
            s.cancel_sync(SyncCancel::op::<Read<'_>>().all(), Some(PATIENCE))
                .unwrap();
            let (seen, _) = reap_last(s, N);
            assert!(strays(s).is_empty(), "{what}");
            assert_eq!(s.in_flight(), 0, "{what}");
            lasts(&seen)
        })
    });
    assert_eq!(results.len(), N, "{what}: {results:?}");
    for (i, (r, _)) in pipes.iter().enumerate() {
        let want = uring_tests::pattern(8, i as u8);
        match results[&(i as u64)] {
            8 => {
                uring_tests::net::assert_kernel_bytes(&bufs[i], &want, &what);
                assert!(held(r).is_empty(), "{what}: read {i}");
            }
            r2 if r2 == -libc::ECANCELED => {
                assert_eq!(bufs[i], [CANARY; 8], "{what}: read {i}");
                assert_eq!(held(r), want, "{what}: read {i}");
            }
            other => panic!("{what}: read {i} ended with {other}"),
        }
    }
}

/// [`cancels_racing_writes`] with every key and timeout.
fn racing_on(mut ring: Ring) {
    let keys = [
        (SyncCancel::op::<Read<'_>>().all(), true),
        (SyncCancel::any(), false),
        (SyncCancel::user_data(3).all(), false),
    ];
    for (key, by_op) in keys {
        if by_op && !combined_keys() {
            continue;
        }
        for timeout in [Some(PATIENCE), Some(Duration::ZERO), None] {
            cancels_racing_writes(&mut ring, key, timeout);
        }
    }
}

/// Cancels racing the writes that complete the reads they cancel, in a
/// fast scope.
#[test]
fn cancels_racing_completions_in_a_fast_scope() {
    let _watch = watchdog();
    if let Some(ring) = ring_of(SQ_ENTRIES, false) {
        racing_on(ring);
    }
}

/// The same in a scope that tags every op.
#[test]
fn cancels_racing_completions_in_a_tagging_scope() {
    let _watch = watchdog();
    if let Some(ring) = ring_of(SQ_ENTRIES, true) {
        racing_on(ring);
    }
}

/// The same on a ring with deferred task work.
#[test]
fn cancels_racing_completions_on_a_defer_taskrun_ring() {
    let _watch = watchdog();
    if let Some(ring) = uring_tests::defer_ring(SQ_ENTRIES) {
        racing_on(ring);
    }
}

/// The same on an SQPOLL ring.
#[test]
fn cancels_racing_completions_on_an_sqpoll_ring() {
    let _watch = watchdog();
    if let Some(ring) = uring_tests::sqpoll_ring(SQ_ENTRIES) {
        racing_on(ring);
    }
}

/// Three hundred reads carrying one value, cancelled by it with `all` and
/// a zero timeout, call after call: each call is `Ok` or `TimedOut`, each
/// cancels some, none loses or repeats a completion, and once all are gone
/// the key finds nothing (`ENOENT` without `all`). Likewise with `any` on a
/// ring with deferred task work.
#[test]
fn hundreds_cancelled_with_a_zero_timeout() {
    let _watch = watchdog();
    const N: usize = 300;
    let rings: Vec<(Option<Ring>, SyncCancel<'_>)> = vec![
        (ring_of(256, false), SyncCancel::user_data(9).all()),
        (ring_of(256, true), SyncCancel::user_data(9).all()),
        (uring_tests::defer_ring(256), SyncCancel::any()),
        (uring_tests::defer_ring(256), SyncCancel::user_data(9).all()),
    ];
    for (ring, key) in rings {
        let Some(mut ring) = ring else { continue };
        assert!(ring.cq_entries() as usize >= N);
        let (a, a_w) = uring_tests::pipe();
        let mut bufs = vec![[CANARY; 4]; N];
        let (calls, timed_out) = ring.scope(|s| {
            for buf in bufs.iter_mut() {
                if s.space_left() == 0 {
                    s.submit().unwrap();
                }
                s.push(Read::new(&a, &mut buf[..]).user_data(9)).unwrap();
            }
            s.submit().unwrap();
            let mut cancelled = 0;
            let mut calls = 0;
            let mut timed_out = 0;
            loop {
                calls += 1;
                assert!(calls <= 2 * N, "{key:?}: no end of calls");
                let r = s.cancel_sync(key, Some(Duration::ZERO));
                let ready: Vec<Seen> = s
                    .completions()
                    .map(|c| (c.user_data(), c.res(), c.flags()))
                    .collect();
                assert!(
                    ready.iter().all(|c| *c == (9, -libc::ECANCELED, 0)),
                    "{key:?}: {ready:?}"
                );
                cancelled += ready.len();
                match r {
                    Ok(()) if s.in_flight() == 0 => break,
                    Ok(()) => {
                        // All were asked for; the rest come with a wait.
                        let (seen, _) = reap_last(s, s.in_flight() as usize);
                        cancelled += seen.len();
                        break;
                    }
                    Err(Error::TimedOut) => timed_out += 1,
                    Err(e) => panic!("{key:?}: {e}"),
                }
            }
            assert_eq!(cancelled, N, "{key:?}");
            assert!(strays(s).is_empty());
            assert_eq!(s.in_flight(), 0);
            let none = s.cancel_sync(SyncCancel::user_data(9), Some(Duration::ZERO));
            assert!(is_errno(&none, libc::ENOENT), "{none:?}");
            s.cancel_sync(key, Some(Duration::ZERO)).unwrap();
            (calls, timed_out)
        });
        assert!(calls >= 1 && timed_out < calls, "{key:?}");
        put(&a_w, b"after");
        std::thread::sleep(QUIET);
        assert!(bufs.iter().all(|b| *b == [CANARY; 4]), "{key:?}");
        assert_eq!(held(&a), b"after");
    }
}

// ---------------------------------------------------------------------
// Keys naming files: another ring's, stale ones, rings.
// ---------------------------------------------------------------------

/// A registered file of another ring as the descriptor key, alone or
/// beside a `user_data` or an opcode, on the ring and in its scopes (fast
/// and tagging): an `InvalidArgument` error each time, nothing cancelled.
/// A plain descriptor given after it replaces it (`and_fd`), and the key
/// is good again.
#[test]
fn another_ring_s_registered_file_as_the_key() {
    let _watch = watchdog();
    let (a, a_w) = uring_tests::pipe();
    let mut other = Ring::new(4).unwrap();
    let foreign = other.register_files(&[a.as_fd()]).unwrap();
    for tags in [false, true] {
        let Some(mut ring) = ring_of(8, tags) else {
            continue;
        };
        let f = foreign.get(0).unwrap();
        let mut keys = vec![
            SyncCancel::fd(f),
            SyncCancel::fd(f).all(),
            SyncCancel::fd(&a).and_fd(f),
            SyncCancel::user_data(1).and_fd(f),
            SyncCancel::user_data(1).and_fd(f).all(),
            SyncCancel::any().and_fd(f),
        ];
        if combined_keys() {
            keys.push(SyncCancel::op::<Read<'_>>().and_fd(f));
            keys.push(SyncCancel::op::<Read<'_>>().and_user_data(1).and_fd(f));
        }
        for key in &keys {
            let r = ring.cancel_sync(*key, Some(PATIENCE));
            assert!(
                matches!(r, Err(Error::InvalidArgument(_))),
                "{key:?}: {r:?}"
            );
        }
        let mut buf = [CANARY; 8];
        ring.scope(|s| {
            s.push(Read::new(&a, &mut buf[..]).user_data(1)).unwrap();
            s.submit().unwrap();
            for key in &keys {
                let r = s.cancel_sync(*key, Some(PATIENCE));
                assert!(
                    matches!(r, Err(Error::InvalidArgument(_))),
                    "{key:?}: {r:?}"
                );
            }
            assert!(strays(s).is_empty());
            assert_eq!(s.in_flight(), 1, "nothing was cancelled");
            // The descriptor given last replaces the foreign slot.
            s.cancel_sync(SyncCancel::fd(f).and_fd(&a), Some(PATIENCE))
                .unwrap();
            let (seen, _) = reap_last(s, 1);
            assert_eq!(seen, [(1, -libc::ECANCELED, 0)]);
        });
        put(&a_w, b"after");
        std::thread::sleep(QUIET);
        assert_eq!(buf, [CANARY; 8], "tags: {tags}");
        assert_eq!(held(&a), b"after");
    }
}

/// A ring's descriptor as the key (`SyncCancel::fd(&ring)`, which needs no
/// `unsafe`; a ring cannot be given a key that borrows it, since the key
/// holds the borrow): on another ring it matches none of that ring's
/// requests (`ENOENT`, `Ok` with `all`), and, the ring having lent its
/// descriptor, the ring's later scopes tag every op. The other ring's
/// descriptor, as a key on the ring, names the poll on it.
#[test]
fn a_ring_s_descriptor_as_the_key() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(4).unwrap();
    let none = other.cancel_sync(SyncCancel::fd(&ring), Some(PATIENCE));
    assert!(is_errno(&none, libc::ENOENT), "{none:?}");
    other
        .cancel_sync(SyncCancel::fd(&ring).all(), Some(PATIENCE))
        .unwrap();
    let theirs = SyncCancel::fd(&other);
    let (a, a_w) = uring_tests::pipe();
    let mut buf = [CANARY; 8];
    ring.scope(|s| {
        assert!(s.tags_every_op(), "the ring lent its descriptor");
        s.push(Read::new(&a, &mut buf[..]).user_data(1)).unwrap();
        s.push(PollAdd::new(&other, PollEvents::IN).user_data(2))
            .unwrap();
        s.submit().unwrap();
        assert!(strays(s).is_empty());
        s.cancel_sync(theirs.all(), Some(PATIENCE)).unwrap();
        let (seen, _) = reap_last(s, 1);
        assert_eq!(seen, [(2, -libc::ECANCELED, 0)]);
        assert_eq!(s.in_flight(), 1, "the read runs on");
    });
    // The other ring's completion would have woken the poll: none was
    // armed any more.
    other.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(uring_tests::reap_sorted(&mut other, 1), [(3, 0)]);
    put(&a_w, b"after");
    std::thread::sleep(QUIET);
    assert_eq!(buf, [CANARY; 8]);
    assert_eq!(held(&a), b"after");
}

// ---------------------------------------------------------------------
// Requests the kernel runs in io-wq, zero-copy sends, selected buffers,
// multishot timeouts.
// ---------------------------------------------------------------------

/// A splice from an empty pipe blocks in an io-wq worker. Cancelled by
/// `user_data`, descriptor, opcode or `any`, it ends exactly once (the
/// worker interrupted), and after the scope the bytes written into the
/// empty pipe stay there: no worker moves them. (A cancel of one request
/// may say `ENOENT` all the same: Linux 6.18 finds the splice running and
/// interrupts its worker, forgets that it did (`io_try_cancel` drops its
/// first look's `-EALREADY`), and looks again; a worker that completed the
/// splice meanwhile leaves nothing to find.) On an SQPOLL ring, whose
/// workers a synchronous cancel does not reach, the cancel may find
/// nothing, and the scope's end cancels it with a request of its own.
fn spliced_in_io_wq(ring: &mut Ring, what: &str) {
    let sqpoll = ring
        .params()
        .setup_flags()
        .contains(uring::SetupFlags::SQPOLL);
    for k in 0..5 {
        let (empty, empty_w) = uring_tests::pipe();
        let (sink_r, sink) = uring_tests::pipe();
        let key = match k {
            0 => SyncCancel::user_data(1),
            1 => SyncCancel::fd(&sink),
            2 => SyncCancel::fd(&sink).all(),
            3 => SyncCancel::any(),
            _ => SyncCancel::user_data(1).all(),
        };
        let what = format!("{what}: {key:?}");
        ring.scope(|s| {
            s.push(Splice::new(&sink, &empty, 16).user_data(1)).unwrap();
            s.submit().unwrap();
            if sqpoll {
                // Let the worker (the SQ thread's) start and block.
                std::thread::sleep(Duration::from_millis(20));
            } else {
                uring_tests::wait_for_a_worker_blocked_on_a_pipe();
            }
            let r = s.cancel_sync(key, Some(PATIENCE));
            if sqpoll {
                assert!(r.is_ok() || is_errno(&r, libc::ENOENT), "{what}: {r:?}");
                // The scope's end cancels it, or this did.
                return;
            }
            assert!(r.is_ok() || is_errno(&r, libc::ENOENT), "{what}: {r:?}");
            let (seen, _) = reap_last(s, 1);
            assert_eq!(seen.len(), 1, "{what}: {seen:?}");
            assert_eq!(seen[0].0, 1);
            // Linux 6.18 lets the worker's `-ERESTARTSYS` out as it is.
            assert!(
                [-libc::ECANCELED, -libc::EINTR, -ERESTARTSYS].contains(&seen[0].1),
                "{what}: {seen:?}"
            );
            assert!(strays(s).is_empty(), "{what}");
        });
        put(&empty_w, b"after the scope");
        std::thread::sleep(QUIET);
        assert_eq!(held(&empty), b"after the scope", "{what}");
        assert!(held(&sink_r).is_empty(), "{what}");
    }
}

/// The kernel's own "restart the call" errno, which an interrupted io-wq
/// splice completes with.
const ERESTARTSYS: i32 = 512;

#[test]
fn io_wq_requests_cancelled_in_a_fast_scope() {
    let _watch = watchdog();
    if let Some(mut ring) = ring_of(8, false) {
        spliced_in_io_wq(&mut ring, "fast");
    }
}

#[test]
fn io_wq_requests_cancelled_in_a_tagging_scope() {
    let _watch = watchdog();
    if let Some(mut ring) = ring_of(8, true) {
        spliced_in_io_wq(&mut ring, "tagging");
    }
}

/// On a ring with deferred task work, the worker's completion is task work
/// for the very thread that waits in the synchronous cancel: the cancel
/// runs it, and returns.
#[test]
fn io_wq_requests_cancelled_on_a_defer_taskrun_ring() {
    let _watch = watchdog();
    if let Some(mut ring) = uring_tests::defer_ring(8) {
        spliced_in_io_wq(&mut ring, "defer_taskrun");
    }
}

#[test]
fn io_wq_requests_cancelled_on_an_sqpoll_ring() {
    let _watch = watchdog();
    if let Some(mut ring) = uring_tests::sqpoll_ring(8) {
        spliced_in_io_wq(&mut ring, "sqpoll");
    }
}

/// A zero-copy send waiting for room on a full socket, cancelled by each
/// key: its completion and its notification come once each, the scope
/// ends after both, and the peer receives only what filled the socket,
/// none of the send's bytes.
#[test]
fn zero_copy_sends_cancelled_by_every_key() {
    let _watch = watchdog();
    for tags in [false, true] {
        let Some(mut ring) = ring_of(8, tags) else {
            continue;
        };
        if !uring_tests::require_op::<SendZc<'_>>(&ring) {
            return;
        }
        for k in 0..4 {
            let (client, mut server) = uring_tests::tcp_pair();
            let (filler, filled) = uring_tests::net::fill_send_side(client.as_fd());
            let data = uring_tests::pattern(4096, 9);
            let key = match k {
                0 => SyncCancel::user_data(1),
                1 => SyncCancel::fd(&client),
                2 => SyncCancel::any(),
                _ => {
                    if !combined_keys() {
                        continue;
                    }
                    SyncCancel::op::<SendZc<'_>>().and_user_data(1)
                }
            };
            let what = format!("{key:?}, tags: {tags}");
            let seen = ring.scope(|s| {
                s.push(SendZc::new(&client, &data[..]).user_data(1))
                    .unwrap();
                s.submit().unwrap();
                std::thread::sleep(Duration::from_millis(5));
                s.cancel_sync(key, Some(PATIENCE))
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let (mut seen, _) = reap_last(s, 1);
                seen.extend(strays(s));
                seen
            });
            let firsts: Vec<&Seen> = seen.iter().filter(|c| c.2 & NOTIF == 0).collect();
            assert_eq!(firsts.len(), 1, "{what}: {seen:?}");
            assert_eq!(firsts[0].1, -libc::ECANCELED, "{what}: {seen:?}");
            let notes = seen.iter().filter(|c| c.2 & NOTIF != 0).count();
            let more = firsts[0].2 & uring::sys::IORING_CQE_F_MORE != 0;
            assert!(
                notes <= usize::from(more),
                "{what}: a notification only if announced: {seen:?}"
            );
            drop((client, filler));
            let mut got = Vec::new();
            let end = std::time::Instant::now() + PATIENCE;
            while !uring_tests::net::drain(&mut server, &mut got) {
                assert!(std::time::Instant::now() < end, "{what}: no end of stream");
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(got.len(), filled, "{what}: only the filler's bytes");
            assert!(got.iter().all(|&b| b == 0), "{what}");
        }
    }
}

/// The notification flag.
const NOTIF: u32 = uring::sys::IORING_CQE_F_NOTIF;

/// A receive selecting a provided buffer, cancelled by each key: its
/// completion names no buffer, a claim of it is refused, and the group
/// keeps every buffer: the next receive gets one, with the bytes.
#[test]
fn a_selecting_receive_cancelled_keeps_its_group_whole() {
    let _watch = watchdog();
    for tags in [false, true] {
        let Some(mut ring) = ring_of(8, tags) else {
            continue;
        };
        let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 7, 2, 16) else {
            return;
        };
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
        let keys = [
            (SyncCancel::user_data(1), false),
            (SyncCancel::fd(&rx).all(), true),
            (SyncCancel::any(), true),
        ];
        for (key, all) in keys {
            let what = format!("{key:?}, tags: {tags}");
            ring.scope(|s| {
                s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
                s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
                s.submit().unwrap();
                s.cancel_sync(key, Some(PATIENCE)).unwrap();
                let mut cancelled = 0;
                while cancelled < if all { 2 } else { 1 } {
                    s.wait_timeout(1, PATIENCE).unwrap();
                    for mut cqe in s.completions() {
                        assert_eq!(cqe.res(), -libc::ECANCELED, "{what}");
                        assert_eq!(cqe.buffer_id(), None, "{what}");
                        assert!(pool.claim(&mut cqe).is_err(), "{what}");
                        cancelled += 1;
                    }
                }
                for _ in cancelled..2 {
                    tx.write_all(b"bytes").unwrap();
                    let mut cqe = uring_tests::next_scope_cqe(s);
                    assert_eq!(cqe.res(), 5, "{what}");
                    let buf = pool.claim(&mut cqe).unwrap();
                    uring_tests::net::assert_kernel_bytes(&buf[..5], b"bytes", &what);
                }
                assert!(strays(s).is_empty(), "{what}");
                assert_eq!(s.in_flight(), 0, "{what}");
            });
        }
    }
}

/// A multishot timeout firing every millisecond on a ring with deferred
/// task work, whose firings wait in task work that the synchronous cancel
/// runs before it looks: cancelled by `user_data`, `any` or opcode, it
/// posts its last completion once, cancelled, and nothing after.
///
/// The cancel can still miss it: when the timer fires again between the
/// task work and the look (a slow run, under valgrind), the timeout is out
/// of the kernel's list, and a key that names it finds nothing (`ENOENT`;
/// `any` cancels nothing). The program asks again.
#[test]
fn a_multishot_timeout_cancelled_on_a_defer_taskrun_ring() {
    let _watch = watchdog();
    let keys = [
        SyncCancel::user_data(1),
        SyncCancel::any(),
        SyncCancel::op::<Timeout>().all(),
    ];
    for (i, key) in keys.into_iter().enumerate() {
        if i == 2 && !combined_keys() {
            continue;
        }
        let Some(mut ring) = uring_tests::defer_ring(64) else {
            return;
        };
        ring.scope(|s| {
            s.push(
                Timeout::new(Duration::from_millis(1))
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            std::thread::sleep(Duration::from_millis(5));
            let mut seen: Vec<Seen> = Vec::new();
            let mut asked = 0;
            while !lasts(&seen).contains_key(&1) {
                asked += 1;
                assert!(asked <= 1000, "{key:?}: never found: {seen:?}");
                let r = s.cancel_sync(key, Some(PATIENCE));
                assert!(r.is_ok() || is_errno(&r, libc::ENOENT), "{key:?}: {r:?}");
                // Posts what the cancel left in task work.
                s.get_events().unwrap();
                seen.extend(s.completions().map(|c| (c.user_data(), c.res(), c.flags())));
            }
            seen.extend(strays(s));
            let last = lasts(&seen);
            assert_eq!(last.get(&1), Some(&-libc::ECANCELED), "{key:?}: {seen:?}");
            assert_eq!(last.len(), 1);
            assert!(
                seen.iter()
                    .all(|c| c.0 == 1 && (c.1 == -libc::ETIME || c.1 == -libc::ECANCELED)),
                "{seen:?}"
            );
            assert_eq!(s.in_flight(), 0);
        });
    }
}
