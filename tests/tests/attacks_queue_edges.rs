//! Attacks, in safe code, on the edges of the two queues.
//!
//! - The push path of the submission queue: a push whose run of free slots
//!   is too short re-reads the kernel's head and takes a new run (a one-SQE
//!   push always finds one when a slot is free), or writes a chain across
//!   the end of the SQE array. One-SQE pushes fill the queue to its last
//!   slot with the kernel's head at every place of rings of 1, 2, 4 and 8
//!   entries, of 64- and 128-byte SQEs, behind SQEs not yet submitted or
//!   left in the queue by a submission the kernel stopped early; chains of
//!   every length are mixed with single ops across the wrap; full queues
//!   hand ops and chains back whole at every place; and scopes, whose limit
//!   (ops in flight against the size of the CQ) ends runs in the middle of
//!   the array, refuse exactly at it, in pushes, batches and folds.
//! - The walk of the completion queue under `Completions::fold`
//!   (`for_each`, `sum`, `count`, `last`, ...) and a scope's: batches that
//!   wrap the CQ array at every place of CQs of every size from 2 to 16
//!   (runs of one and two slots before the wrap among them), of 16- and
//!   32-byte CQEs, with a panic in the closure at every completion. What
//!   was not handed out is read next, once, in order, and the kernel sees
//!   the head where the walk left it: the CQ then takes as many
//!   completions as it has slots without an overflow.
//!
//! Every op pushed completes exactly once with its own `user_data`. A NOP
//! completes as it is submitted, so single NOPs complete in the order of
//! the queue, which the tests assert; the ops of a chain complete in their
//! order, but after its head the kernel runs them in task work, so a chain
//! may complete after ops queued behind it.
//!
//! A submission stops early at a NOP that asks for a 32-byte completion on
//! a ring of 16-byte ones (see [`stopper`]): the kernel fails it as it
//! prepares it, and leaves the SQEs behind it in the queue.

use std::any::Any;
use std::sync::OnceLock;

use uring::ops::Nop;
use uring::sys::{self, io_uring_sqe, io_uring_sqe128};
use uring::{
    BigCqe, Builder, Cqe16, Cqe32, CqeSize, Link, Linked, PushError, PushErrorKind, Ring, Sqe64,
    Sqe128, SqeSize, SubmissionQueue, UniformCqe,
};
use uring_tests::{Rng, kernel_version, skip, watchdog};
use uring_tests::{expect_stop, stop};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A NOP the kernel refuses as it prepares it: it asks for a 32-byte
/// completion on a ring of 16-byte ones. It completes with `EINVAL`, and
/// the enter that submits it stops right after it (the ring is not
/// `SUBMIT_ALL`), leaving the SQEs behind it in the queue, published, for
/// the next enter.
fn stopper(user_data: u64) -> Nop {
    Nop::new()
        .big_cqe([user_data, !user_data])
        .user_data(user_data)
}

/// Whether the kernel stops a submission at a [`stopper`] (it knows the
/// flags of NOPs from 6.10 on); says why the tests that need it skip
/// otherwise.
fn stoppers_stop() -> bool {
    static STOPS: OnceLock<bool> = OnceLock::new();
    let stops = *STOPS.get_or_init(|| {
        let mut ring = Ring::new(2).unwrap();
        ring.push(stopper(1)).unwrap();
        ring.push(Nop::new().user_data(2)).unwrap();
        ring.submit().unwrap() == 1
    });
    if !stops {
        skip("this kernel does not stop a submission at a NOP with flags it refuses");
    }
    stops
}

/// An SQ slot of either size, as [`Ring::pending_sqes`] hands it out.
trait SqeSlot: Copy {
    /// The 64-byte SQE at its start.
    fn head(&self) -> io_uring_sqe;
    /// Whether the bytes past the first 64 (of a 128-byte slot) are all
    /// zero, as every push of a NOP writes them.
    fn rest_is_zero(&self) -> bool;
}

impl SqeSlot for io_uring_sqe {
    fn head(&self) -> io_uring_sqe {
        *self
    }

    fn rest_is_zero(&self) -> bool {
        true
    }
}

impl SqeSlot for io_uring_sqe128 {
    fn head(&self) -> io_uring_sqe {
        self.sqe
    }

    fn rest_is_zero(&self) -> bool {
        self.ext == [0; 64]
    }
}

/// The SQEs in the queue, in ring order: `user_data` and whether each is
/// linked to the next. Asserts that each is a whole NOP.
fn queued<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) -> Vec<(u64, bool)>
where
    S::Slot: SqeSlot,
{
    ring.pending_sqes()
        .map(|slot| {
            let sqe = slot.head();
            assert_eq!(sqe.opcode, sys::IORING_OP_NOP, "{}", sqe.user_data);
            assert!(slot.rest_is_zero(), "stale bytes past the SQE's first 64");
            (sqe.user_data, sqe.flags & sys::IOSQE_IO_LINK != 0)
        })
        .collect()
}

/// `(user_data, res)` of every ready completion, read one by one with
/// `next` (not by the walk under `fold`).
fn drain<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) -> Vec<(u64, i32)> {
    let mut out = Vec::new();
    for cqe in ring.completions() {
        out.push((cqe.as_ref().user_data(), cqe.as_ref().res()));
    }
    out
}

/// `(user_data, 0)` for each of `user_data`: what NOPs complete with.
fn ok(user_data: impl IntoIterator<Item = u64>) -> Vec<(u64, i32)> {
    user_data.into_iter().map(|u| (u, 0)).collect()
}

/// Pushes `n` NOPs (`user_data` from `first` on) in rounds the SQ and the
/// CQ hold, submitting each round and reading its completions with `next`:
/// the SQ's tail and the CQ's head move `n` places on.
fn run_nops<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, first: u64, n: u64) {
    let room = u64::from(ring.sq_entries().min(ring.cq_entries()));
    let mut done = 0;
    while done < n {
        let round = room.min(n - done);
        for i in 0..round {
            ring.push(Nop::new().user_data(first + done + i)).unwrap();
        }
        ring.submit_and_wait(round as u32).unwrap();
        let from = first + done;
        assert_eq!(drain(ring), ok(from..from + round));
        done += round;
    }
}

/// Pushes ops made by `make` with `user_data` from `first` on through
/// `push` until one is refused; returns the `user_data` of those taken and
/// the refusal. Fails past `max` taken.
fn push_until_refused(
    mut push: impl FnMut(Nop) -> Result<(), PushError<Nop>>,
    make: impl Fn(u64) -> Nop,
    first: u64,
    max: u64,
) -> (Vec<u64>, PushError<Nop>) {
    let mut taken = Vec::new();
    loop {
        let user_data = first + taken.len() as u64;
        match push(make(user_data)) {
            Ok(()) => taken.push(user_data),
            Err(e) => return (taken, e),
        }
        assert!(
            taken.len() as u64 <= max,
            "more pushes taken than there are places: {taken:?}"
        );
    }
}

/// A plain NOP carrying `user_data`.
fn nop(user_data: u64) -> Nop {
    Nop::new().user_data(user_data)
}

/// A chain of two NOPs, typed by its length.
type L2 = Link<Nop, Nop>;
/// A chain of three NOPs.
type L3 = Link<L2, Nop>;
/// A chain of four NOPs.
type L4 = Link<L3, Nop>;

/// NOPs linked in a chain, of one of the types a push takes: typed by its
/// length (pushed by `push`), or of run-time length (`push_linked`).
enum Sub {
    /// One op.
    One(Nop),
    /// Two.
    Two(L2),
    /// Three.
    Three(L3),
    /// Four.
    Four(L4),
    /// Any number, as a [`Linked`].
    Many(Linked<Nop>),
}

impl Sub {
    /// `len` NOPs with `user_data` from `first` on: typed by their length
    /// when there are at most four and `linked` is false, a [`Linked`]
    /// otherwise.
    fn new(first: u64, len: u32, linked: bool) -> Sub {
        let at = |i: u64| nop(first + i);
        match (len, linked) {
            (1, false) => Sub::One(at(0)),
            (2, false) => Sub::Two(at(0).link(at(1))),
            (3, false) => Sub::Three(at(0).link(at(1)).link(at(2))),
            (4, false) => Sub::Four(at(0).link(at(1)).link(at(2)).link(at(3))),
            _ => Sub::Many(Linked::new((0..u64::from(len)).map(at).collect())),
        }
    }
}

/// What the queue holds once a chain of `len` NOPs from `first` on is
/// pushed: each linked to the next but the last.
fn chain_sqes(first: u64, len: u32) -> Vec<(u64, bool)> {
    (0..u64::from(len))
        .map(|i| (first + i, i + 1 < u64::from(len)))
        .collect()
}

/// Asserts that `got` holds one completion, with result 0, for each SQE
/// of `sqes` (as [`queued`] shows them), and that the ops of each chain
/// completed in their order. Ops of different chains may complete in
/// either order: the kernel runs what follows a chain's head after it, in
/// task work.
fn assert_chains_completed(got: &[(u64, i32)], sqes: &[(u64, bool)], what: &str) {
    assert!(got.iter().all(|&(_, res)| res == 0), "{what}: {got:?}");
    let mut want: Vec<u64> = sqes.iter().map(|&(u, _)| u).collect();
    let mut each: Vec<u64> = got.iter().map(|&(u, _)| u).collect();
    want.sort_unstable();
    each.sort_unstable();
    assert_eq!(each, want, "{what}: each op once: {got:?}");
    let at = |u: u64| got.iter().position(|&(g, _)| g == u);
    for pair in sqes.windows(2) {
        if pair[0].1 {
            assert!(
                at(pair[0].0) < at(pair[1].0),
                "{what}: a chain completed out of order: {got:?}"
            );
        }
    }
}

/// A push of a [`Sub`] refused: the reason, and the `Sub` rebuilt from
/// what the error handed back.
type Refused = Box<(PushErrorKind, Sub)>;

/// Pushes `sub` through `batch`, a ring's; a refusal gives back the
/// `Sub`, rebuilt from what the error handed back, and the reason.
fn push_sub<S: SqeSize>(batch: &mut SubmissionQueue<'_, S>, sub: Sub) -> Result<(), Refused> {
    match sub {
        Sub::One(op) => batch
            .push(op)
            .map_err(|e| Box::new((e.kind(), Sub::One(e.into_inner())))),
        Sub::Two(op) => batch
            .push(op)
            .map_err(|e| Box::new((e.kind(), Sub::Two(e.into_inner())))),
        Sub::Three(op) => batch
            .push(op)
            .map_err(|e| Box::new((e.kind(), Sub::Three(e.into_inner())))),
        Sub::Four(op) => batch
            .push(op)
            .map_err(|e| Box::new((e.kind(), Sub::Four(e.into_inner())))),
        Sub::Many(chain) => batch
            .push_linked(chain)
            .map_err(|e| Box::new((e.kind(), Sub::Many(e.into_inner())))),
    }
}

/// Moves the SQ's tail (and, for the NOPs' completions, the CQ's head)
/// `by` places on through scopes, which leave a ring that never saw a push
/// outside them with scopes that tag few ops.
fn move_in_scopes<S: SqeSize, C: UniformCqe>(ring: &mut Ring<S, C>, by: u64) {
    let room = u64::from(ring.sq_entries());
    let mut left = by;
    while left > 0 {
        let round = left.min(room);
        ring.scope(|s| {
            for i in 0..round {
                s.push(nop(2_000_000 + i)).unwrap();
            }
            s.submit_and_wait(round as u32).unwrap();
            assert_eq!(s.completions().count() as u64, round);
        });
        left -= round;
    }
    assert_eq!(ring.ready(), 0);
}

/// Makes every later scope of `ring` tag all of its ops: a push outside a
/// scope makes the ring one that may see foreign completions. Moves the
/// SQ's tail and the CQ's head one place on.
fn make_scopes_tag_every_op<S: SqeSize, C: UniformCqe>(ring: &mut Ring<S, C>) {
    run_nops(ring, u64::MAX >> 1, 1);
    assert!(ring.scope(|s| s.tags_every_op()));
}

/// Moves the CQ's head, at `*head` (completions read since the ring was
/// made), to place `to` of the array: completes NOPs and reads them with
/// `next`.
fn move_cq_head<C: UniformCqe>(ring: &mut Ring<Sqe64, C>, head: &mut u64, to: u64) {
    let cq = u64::from(ring.cq_entries());
    let by = (to + cq - *head % cq) % cq;
    run_nops(ring, 1_000_000, by);
    *head += by;
}

/// Completes the NOPs `make` builds for `user_data` `first..first + n`, in
/// rounds the SQ holds, leaving their completions unread; asserts that all
/// of them are in the CQ and none waits in an overflow list (`n` plus what
/// was ready must not pass the CQ's size).
fn complete_unread<S: SqeSize, C: UniformCqe>(
    ring: &mut Ring<S, C>,
    first: u64,
    n: u64,
    make: &dyn Fn(u64) -> Nop,
) {
    let room = u64::from(ring.sq_entries());
    let before = ring.ready();
    let mut done = 0;
    while done < n {
        let round = room.min(n - done);
        for i in 0..round {
            ring.push(make(first + done + i)).unwrap();
        }
        // NOPs complete as they are submitted.
        assert_eq!(u64::from(ring.submit().unwrap()), round);
        done += round;
    }
    assert!(!ring.cq_has_overflow(), "completions overflowed the CQ");
    assert_eq!(u64::from(ring.ready()), u64::from(before) + n);
}

/// Checks that the kernel sees the CQ's head where the reads left it (all
/// read): the CQ takes a completion in each of its slots, none goes to an
/// overflow list, and they come back in order. Moves `*head` on.
fn kernel_sees_the_head<C: UniformCqe>(ring: &mut Ring<Sqe64, C>, head: &mut u64, what: &str) {
    assert_eq!(ring.ready(), 0, "{what}: completions left unread");
    let cq = u64::from(ring.cq_entries());
    complete_unread(ring, 5_000_000, cq, &nop);
    assert_eq!(drain(ring), ok(5_000_000..5_000_000 + cq), "{what}");
    *head += cq;
}

/// The two extra words of a completion, if it is a 32-byte one.
fn words_of<T: Any>(cqe: &T) -> Option<[u64; 2]> {
    (cqe as &dyn Any)
        .downcast_ref::<BigCqe>()
        .map(BigCqe::big_cqe)
}

// ---------------------------------------------------------------------------
// The submission queue
// ---------------------------------------------------------------------------

/// How the SQEs already in the queue got there when the pushes under test
/// begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queued {
    /// Pushed, not submitted: the kernel's head is where the last submit
    /// left it.
    Unsubmitted,
    /// Submitted behind a [`stopper`]: the kernel took the stopper and
    /// left them, published, in the queue.
    BehindStopper,
}

/// A ring of `entries` SQEs of type `S`, with the kernel's head at place
/// `head` of the array and `queued_n` SQEs in the queue (put there as
/// `how` says), filled to its last slot with one-SQE pushes: through one batch,
/// or a push each. Exactly the free slots are taken, the next push is
/// handed back, the queue holds the SQEs in order, and every op completes
/// once, in order; the op handed back completes as itself.
fn fill_to_the_last_slot<S: SqeSize>(
    entries: u32,
    head: u32,
    queued_n: u32,
    how: Queued,
    batch: bool,
) where
    S::Slot: SqeSlot,
{
    let what = format!(
        "{entries} SQEs of {} bytes, head at {head}, {queued_n} queued {how:?}, batch {batch}",
        size_of::<S::Slot>()
    );
    let mut ring = Builder::new().build_sized::<S, Cqe16>(entries).unwrap();
    assert_eq!(ring.sq_entries(), entries);
    let e = u64::from(entries);
    let mut want = Vec::new();
    let queue: Vec<u64> = (100..100 + u64::from(queued_n)).collect();
    match how {
        Queued::Unsubmitted => {
            // A lap and `head` places.
            run_nops(&mut ring, 1000, e + u64::from(head));
            for &u in &queue {
                ring.push(nop(u)).unwrap();
            }
        }
        Queued::BehindStopper => {
            run_nops(&mut ring, 1000, e + u64::from(head) - 1);
            ring.push(stopper(99)).unwrap();
            for &u in &queue {
                ring.push(nop(u)).unwrap();
            }
            assert_eq!(ring.submit().unwrap(), 1, "{what}: the kernel stops");
            want.push((99, -libc::EINVAL));
        }
    }
    assert_eq!(ring.pending(), queued_n, "{what}");
    assert_eq!(ring.space_left(), entries - queued_n, "{what}");

    let (taken, refused) = if batch {
        let mut sq = ring.submission();
        push_until_refused(|op| sq.push(op), nop, 200, e)
    } else {
        push_until_refused(|op| ring.push(op), nop, 200, e)
    };
    assert_eq!(refused.kind(), PushErrorKind::QueueFull, "{what}");
    assert_eq!(taken.len() as u32, entries - queued_n, "{what}");
    assert_eq!(ring.space_left(), 0, "{what}");
    let in_queue: Vec<u64> = queue.iter().chain(&taken).copied().collect();
    assert_eq!(
        queued(&mut ring),
        in_queue.iter().map(|&u| (u, false)).collect::<Vec<_>>(),
        "{what}"
    );

    ring.submit_and_wait(want.len() as u32 + entries).unwrap();
    want.extend(ok(in_queue));
    assert_eq!(drain(&mut ring), want, "{what}");

    let back = 200 + taken.len() as u64;
    ring.push(refused.into_inner()).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(drain(&mut ring), ok([back]), "{what}: the op handed back");
    assert_eq!((ring.pending(), ring.ready()), (0, 0), "{what}");
}

/// One-SQE pushes up to the queue's last slot, wherever the kernel's head
/// stands (so that the pushes end exactly at the SQ array's end, or cross
/// it at every place), behind every number of SQEs the kernel has not
/// taken, on rings of 1, 2, 4 and 8 entries of 64- and 128-byte SQEs.
#[test]
fn one_sqe_pushes_fill_the_queue_to_its_last_slot_wherever_the_kernel_head_stands() {
    let _watch = watchdog();
    let stops = stoppers_stop();
    for entries in [1, 2, 4, 8] {
        for head in 0..entries {
            for batch in [false, true] {
                for queued_n in 0..=entries {
                    fill_to_the_last_slot::<Sqe64>(
                        entries,
                        head,
                        queued_n,
                        Queued::Unsubmitted,
                        batch,
                    );
                    fill_to_the_last_slot::<Sqe128>(
                        entries,
                        head,
                        queued_n,
                        Queued::Unsubmitted,
                        batch,
                    );
                    if stops && queued_n < entries {
                        let how = Queued::BehindStopper;
                        fill_to_the_last_slot::<Sqe64>(entries, head, queued_n, how, batch);
                        fill_to_the_last_slot::<Sqe128>(entries, head, queued_n, how, batch);
                    }
                }
            }
        }
    }
}

/// The chains of [`mixed_across_the_wrap`], drawn at random.
struct Chains {
    /// Draws the lengths, and whether a chain is a `Linked`.
    rng: Rng,
    /// The `user_data` of the next chain's first op.
    next_ud: u64,
    /// The chain refused last round, with its first `user_data` and length.
    carried: Option<(Sub, u64, u32)>,
    /// Pushes refused so far.
    refusals: u32,
}

impl Chains {
    /// Pushes through `push` the chain carried from the last round and then
    /// new ones of 1 to `entries + 1` NOPs until one is refused, into a
    /// queue of `entries` slots, empty at first; returns the SQEs it should
    /// hold. Keeps the refused chain for the next round, unless it is
    /// longer than the queue.
    fn round(
        &mut self,
        entries: u32,
        push: &mut dyn FnMut(Sub) -> Result<(), Refused>,
        what: &str,
    ) -> Vec<(u64, bool)> {
        let mut expect = Vec::new();
        loop {
            let (sub, first, len) = self.carried.take().unwrap_or_else(|| {
                let len = 1 + self.rng.below(u64::from(entries) + 1) as u32;
                let linked = self.rng.below(3) == 0;
                let first = self.next_ud;
                self.next_ud += u64::from(len);
                (Sub::new(first, len, linked), first, len)
            });
            let free = entries - expect.len() as u32;
            match push(sub) {
                Ok(()) => {
                    assert!(len <= free, "{what}: {len} SQEs taken into {free} slots");
                    expect.extend(chain_sqes(first, len));
                }
                Err(refused) => {
                    let (kind, back) = *refused;
                    assert_eq!(kind, PushErrorKind::QueueFull, "{what}");
                    assert!(
                        len > free,
                        "{what}: {len} SQEs refused with {free} slots free"
                    );
                    self.refusals += 1;
                    if len <= entries {
                        self.carried = Some((back, first, len));
                    }
                    return expect;
                }
            }
        }
    }
}

/// Rounds of pushes, through one batch or a batch each, of single NOPs and
/// chains of every length (typed up to four, `Linked` of any length, one
/// longer than the queue among them) until one is refused, starting with
/// the kernel's head at `head` of a ring of `entries` SQEs. A push is
/// refused only when the free slots are fewer than its SQEs, and gives its
/// chain back whole: pushed in the next round, it runs. The queue holds
/// every SQE in order with its link flags, and every op completes once,
/// those of each chain in their order.
fn mixed_across_the_wrap<S: SqeSize>(entries: u32, head: u32, seed: u64)
where
    S::Slot: SqeSlot,
{
    let mut ring = Builder::new().build_sized::<S, Cqe16>(entries).unwrap();
    let e = u64::from(entries);
    run_nops(&mut ring, 1_000_000, e + u64::from(head));
    let mut chains = Chains {
        rng: Rng(seed),
        next_ud: 0,
        carried: None,
        refusals: 0,
    };
    for round in 0..24 {
        let what = format!(
            "{entries} SQEs of {} bytes, head at {head}, seed {seed}, round {round}",
            size_of::<S::Slot>()
        );
        let expect = if round % 2 == 0 {
            let mut sq = ring.submission();
            chains.round(entries, &mut |sub| push_sub(&mut sq, sub), &what)
        } else {
            chains.round(
                entries,
                &mut |sub| push_sub(&mut ring.submission(), sub),
                &what,
            )
        };
        assert_eq!(queued(&mut ring), expect, "{what}");
        let n = expect.len() as u32;
        if n > 0 {
            ring.submit_and_wait(n).unwrap();
        }
        assert_chains_completed(&drain(&mut ring), &expect, &what);
    }
    assert!(chains.refusals > 0);
}

/// Single ops and chains mixed across the end of the SQE array, rings of
/// 1, 2, 4 and 8 entries of both sizes, the kernel's head at every place.
#[test]
fn chains_and_single_ops_mixed_across_the_wrap_run_whole_in_order() {
    let _watch = watchdog();
    for entries in [1u32, 2, 4, 8] {
        for head in 0..entries {
            let seed = 0x9e37_79b9 ^ (u64::from(entries) << 8 | u64::from(head));
            mixed_across_the_wrap::<Sqe64>(entries, head, seed);
            mixed_across_the_wrap::<Sqe128>(entries, head, seed ^ 0x5555);
        }
    }
}

/// With the kernel's head at every place of rings of 1, 2, 4 and 8
/// entries, and every number of SQEs already queued (not submitted, or
/// left behind a stopped submission), a chain of every length, typed or
/// `Linked`, is taken exactly when it fits the free slots; refused, it
/// leaves the queue as it was and comes back whole, and runs whole once
/// the queue has room. An empty `Linked` is taken, full queue or not, and
/// adds nothing.
#[test]
fn chains_of_every_length_at_every_fill_are_taken_or_handed_back_whole() {
    let _watch = watchdog();
    let stops = stoppers_stop();
    for entries in [1u32, 2, 4, 8] {
        let mut ring = Ring::new(entries).unwrap();
        let e = u64::from(entries);
        // SQEs pushed since the ring was made: the SQ's tail.
        let mut tail = 0u64;
        let mut next_ud = 0u64;
        for head in 0..e {
            for queued_n in 0..=e {
                for len in 1..=entries + 1 {
                    for linked in [false, true] {
                        if !linked && len > 4 {
                            continue;
                        }
                        let behind = stops && queued_n < e && (len + u32::from(linked)) % 2 == 0;
                        let what = format!(
                            "{entries} SQEs, head at {head}, {queued_n} queued (behind a \
                             stopper: {behind}), chain of {len}, linked {linked}"
                        );
                        let mut done = Vec::new();
                        let start = if behind { head + e - 1 } else { head + e };
                        let by = (start - tail % e) % e;
                        run_nops(&mut ring, 1_000_000, by);
                        tail += by;
                        if behind {
                            ring.push(stopper(99)).unwrap();
                            tail += 1;
                            done.push((99, -libc::EINVAL));
                        }
                        let mut expect = Vec::new();
                        for _ in 0..queued_n {
                            ring.push(nop(next_ud)).unwrap();
                            expect.push((next_ud, false));
                            next_ud += 1;
                        }
                        tail += queued_n;
                        if behind {
                            assert_eq!(ring.submit().unwrap(), 1, "{what}");
                        }
                        let first = next_ud;
                        next_ud += u64::from(len);
                        let pushed = push_sub(&mut ring.submission(), Sub::new(first, len, linked));
                        let fits = u64::from(len) + queued_n <= e;
                        let mut back = None;
                        match pushed {
                            Ok(()) => {
                                assert!(fits, "{what}: taken without room");
                                expect.extend(chain_sqes(first, len));
                                tail += u64::from(len);
                            }
                            Err(refused) => {
                                let (kind, sub) = *refused;
                                assert!(!fits, "{what}: refused with room");
                                assert_eq!(kind, PushErrorKind::QueueFull, "{what}");
                                back = Some(sub);
                            }
                        }
                        // An empty chain is taken and adds nothing.
                        ring.push_linked(Linked::<Nop>::new(Vec::new())).unwrap();
                        assert_eq!(queued(&mut ring), expect, "{what}");
                        let n = expect.len() as u32;
                        if n > 0 {
                            ring.submit_and_wait(done.len() as u32 + n).unwrap();
                        }
                        let got = drain(&mut ring);
                        assert_eq!(got[..done.len()], done, "{what}");
                        assert_chains_completed(&got[done.len()..], &expect, &what);
                        // The chain handed back runs whole once it fits.
                        if let Some(sub) = back.filter(|_| len <= entries) {
                            if push_sub(&mut ring.submission(), sub).is_err() {
                                panic!("{what}: the chain handed back does not fit an empty queue");
                            }
                            assert_eq!(queued(&mut ring), chain_sqes(first, len), "{what}");
                            ring.submit_and_wait(len).unwrap();
                            assert_eq!(
                                drain(&mut ring),
                                ok(first..first + u64::from(len)),
                                "{what}"
                            );
                            tail += u64::from(len);
                        }
                        assert_eq!((ring.pending(), ring.ready()), (0, 0), "{what}");
                    }
                }
            }
        }
    }
}

/// In a scope of a ring of `entries` SQEs of type `S` and a CQ of `cq`,
/// the SQ's tail at `tail_at`: the scope fills its every place (as many ops
/// in flight as the CQ has entries), reads `read` completions, and pushes
/// (through its batch or a push each) until refused. The run the scope's
/// limit ends, `read` places on from wherever the tail stands, takes
/// exactly `read` pushes (or as many as the SQ holds): the next is refused
/// for the scope's room (or the SQ's). A completion read opens exactly one
/// place: a chain of two is refused, the op handed back goes in. Every op
/// completes once, in order.
fn scope_limit_case<S: SqeSize>(
    entries: u32,
    cq: u32,
    tail_at: u32,
    read: u32,
    batch: bool,
    tag_all: bool,
) {
    let mut ring = Builder::new()
        .cq_entries(cq)
        .build_sized::<S, Cqe16>(entries)
        .unwrap();
    let cap = ring.cq_entries();
    assert_eq!(cap, cq);
    let e = u64::from(entries);
    let mut moved = 0;
    if tag_all {
        make_scopes_tag_every_op(&mut ring);
        moved = 1;
    }
    move_in_scopes(&mut ring, (u64::from(tail_at) + e - moved % e) % e);
    let what = format!(
        "{entries} SQEs of {} bytes, CQ of {cq}, tail at {tail_at}, {read} read, batch {batch}, \
         tag_all {tag_all}",
        size_of::<S::Slot>()
    );
    let (got, want) = ring.scope(|s| {
        assert_eq!(s.tags_every_op(), tag_all);
        let mut got = Vec::new();
        let mut ud = 0;
        while ud < u64::from(cap) {
            let round = e.min(u64::from(cap) - ud);
            for _ in 0..round {
                s.push(nop(ud)).unwrap();
                ud += 1;
            }
            s.submit().unwrap();
        }
        assert_eq!(s.in_flight(), cap, "{what}");
        let full = s.push(nop(9999)).unwrap_err();
        assert_eq!(full.kind(), PushErrorKind::ScopeFull, "{what}");
        assert_eq!(s.ready(), cap, "{what}");
        {
            let mut it = s.completions();
            for _ in 0..read {
                got.push(it.next().expect("a completion").user_data());
            }
        }
        assert_eq!(s.in_flight(), cap - read, "{what}");

        let (taken, refused) = if batch {
            let mut sq = s.submission();
            push_until_refused(|op| sq.push(op), nop, 100, e)
        } else {
            push_until_refused(|op| s.push(op), nop, 100, e)
        };
        assert_eq!(taken.len() as u32, read.min(entries), "{what}");
        let kind = if read <= entries {
            PushErrorKind::ScopeFull
        } else {
            PushErrorKind::QueueFull
        };
        assert_eq!(refused.kind(), kind, "{what}");
        let back = 100 + taken.len() as u64;
        s.submit().unwrap();
        if kind == PushErrorKind::ScopeFull {
            assert_eq!(s.in_flight(), cap, "{what}");
            // At least one completion is ready: one of the first `cap`, or
            // of the ops just taken.
            got.push(s.completions().next().expect("a completion").user_data());
            assert_eq!(s.in_flight(), cap - 1, "{what}");
            let chain = s.push(nop(300).link(nop(301))).unwrap_err();
            assert_eq!(chain.kind(), PushErrorKind::ScopeFull, "{what}");
        }
        s.push(refused.into_inner()).unwrap();
        s.submit().unwrap();
        assert_eq!(s.ready(), s.in_flight(), "{what}: every NOP completed");
        s.completions().for_each(|c| {
            assert_eq!(c.res(), 0);
            got.push(c.user_data());
        });
        assert_eq!(s.in_flight(), 0, "{what}");
        let mut want: Vec<u64> = (0..u64::from(cap)).collect();
        want.extend(&taken);
        want.push(back);
        (got, want)
    });
    assert_eq!(got, want, "{what}");
    assert_eq!((ring.pending(), ring.ready()), (0, 0), "{what}");
}

/// A scope's limit ends the run of free SQ slots wherever the tail stands,
/// in the middle of the array: rings of 1, 2, 4 and 8 SQEs of both sizes,
/// CQs as large as the SQ and twice as large, every number of completions
/// read, scopes that tag every op and scopes that tag few.
#[test]
fn a_scope_s_limit_that_ends_a_run_mid_array_refuses_exactly_at_it() {
    let _watch = watchdog();
    for entries in [1u32, 2, 4, 8] {
        for cq in [entries, 2 * entries] {
            for tail_at in 0..entries {
                for read in 0..=cq {
                    for batch in [false, true] {
                        for tag_all in [false, true] {
                            scope_limit_case::<Sqe64>(entries, cq, tail_at, read, batch, tag_all);
                            scope_limit_case::<Sqe128>(entries, cq, tail_at, read, batch, tag_all);
                        }
                    }
                }
            }
        }
    }
}

/// A full scope of a ring whose SQ and CQ have `entries` each, the SQ's
/// tail (and the CQ's head) at `offset`, read with `for_each` over a
/// split: each completion opens exactly one place, so each push from the
/// closure meets a run the limit ends after one slot, at every place of
/// the array, the last one included; a second push is refused. With `at`,
/// the closure unwinds after its push for completion `at`: what it pushed
/// runs, what it was not handed stays for the next reader.
fn one_place_per_completion<S: SqeSize>(entries: u32, offset: u32, at: Option<u64>, tag_all: bool) {
    let mut ring = Builder::new()
        .cq_entries(entries)
        .build_sized::<S, Cqe16>(entries)
        .unwrap();
    let e = u64::from(entries);
    let mut moved = 0;
    if tag_all {
        make_scopes_tag_every_op(&mut ring);
        moved = 1;
    }
    move_in_scopes(&mut ring, (u64::from(offset) + e - moved % e) % e);
    let what = format!(
        "{entries} SQEs of {} bytes, at {offset}, unwinding at {at:?}, tag_all {tag_all}",
        size_of::<S::Slot>()
    );
    ring.scope(|s| {
        for i in 0..e {
            s.push(nop(i)).unwrap();
        }
        s.submit_and_wait(entries).unwrap();
        assert_eq!(s.in_flight(), entries, "{what}");
        let mut given = Vec::new();
        {
            let (mut sq, it) = s.split();
            let read = || {
                it.for_each(|c| {
                    let u = c.user_data();
                    given.push(u);
                    sq.push(nop(100 + u)).unwrap();
                    let second = sq.push(nop(200 + u)).unwrap_err();
                    assert_eq!(second.kind(), PushErrorKind::ScopeFull, "{what}");
                    if Some(u) == at {
                        stop();
                    }
                })
            };
            if at.is_some() {
                expect_stop(read);
            } else {
                read();
            }
        }
        let answered = given.len() as u64;
        assert_eq!(given, (0..answered).collect::<Vec<_>>(), "{what}");
        assert_eq!(answered, at.map_or(e, |at| at + 1), "{what}");
        assert_eq!(s.in_flight(), entries, "{what}");
        s.submit().unwrap();
        assert_eq!(s.ready(), entries, "{what}");
        let mut rest = Vec::new();
        for c in s.completions() {
            assert_eq!(c.res(), 0, "{what}");
            rest.push(c.user_data());
        }
        let mut want: Vec<u64> = (answered..e).collect();
        want.extend(100..100 + answered);
        assert_eq!(rest, want, "{what}");
        assert_eq!(s.in_flight(), 0, "{what}");
    });
    assert_eq!((ring.pending(), ring.ready()), (0, 0), "{what}");
}

/// One push per completion read, from inside a scope's fold, on rings of
/// 1, 2, 4 and 8 entries of both sizes, at every place of the array, with
/// and without a panic at every completion.
#[test]
fn pushes_from_a_scope_s_fold_take_the_one_place_each_completion_opens() {
    let _watch = watchdog();
    for entries in [1u32, 2, 4, 8] {
        for offset in 0..entries {
            for tag_all in [false, true] {
                let stops = std::iter::once(None).chain((0..u64::from(entries)).map(Some));
                for at in stops {
                    one_place_per_completion::<Sqe64>(entries, offset, at, tag_all);
                    one_place_per_completion::<Sqe128>(entries, offset, at, tag_all);
                }
            }
        }
    }
}

/// Inside a scope of a ring of `entries` SQEs of type `S`, a stopper at
/// place `head - 1` with `queued_n` NOPs behind it: the kernel takes the
/// stopper alone, its head at `head`. The scope then fills the SQ to its
/// last slot with one-SQE pushes, stoppers among them, each taken while a
/// slot is free. With `finish`, the scope submits and reads all: every op
/// once, in order, stoppers with `EINVAL`. Without, it returns with the
/// queue full: its end submits past every stopper and waits for all, and
/// leaves nothing behind.
fn stopped_inside_a_scope<S: SqeSize>(
    entries: u32,
    head: u32,
    queued_n: u32,
    finish: bool,
    tag_all: bool,
) {
    let mut ring = Builder::new().build_sized::<S, Cqe16>(entries).unwrap();
    let e = u64::from(entries);
    let mut moved = 0;
    if tag_all {
        make_scopes_tag_every_op(&mut ring);
        moved = 1;
    }
    move_in_scopes(&mut ring, (u64::from(head) + 2 * e - 1 - moved % e) % e);
    let what = format!(
        "{entries} SQEs of {} bytes, head at {head}, {queued_n} queued, finish {finish}, \
         tag_all {tag_all}",
        size_of::<S::Slot>()
    );
    // Every third op pushed at the SQ's end is a stopper too.
    let make = |u: u64| if u % 3 == 2 { stopper(u) } else { nop(u) };
    let res = |u: u64| if u % 3 == 2 { -libc::EINVAL } else { 0 };
    let got = ring.scope(|s| {
        s.push(stopper(99)).unwrap();
        for i in 0..u64::from(queued_n) {
            s.push(nop(100 + i)).unwrap();
        }
        assert_eq!(s.submit().unwrap(), 1, "{what}: the kernel stops");
        let (taken, refused) = push_until_refused(|op| s.push(op), make, 200, e);
        assert_eq!(taken.len() as u32, entries - queued_n, "{what}");
        assert_eq!(refused.kind(), PushErrorKind::QueueFull, "{what}");
        assert_eq!(s.in_flight(), 1 + entries, "{what}");
        let first = s.completions().next().expect("the stopper's completion");
        assert_eq!(
            (first.user_data(), first.res()),
            (99, -libc::EINVAL),
            "{what}"
        );
        if !finish {
            return None;
        }
        s.submit_and_wait(entries).unwrap();
        let mut got = Vec::new();
        s.completions()
            .for_each(|c| got.push((c.user_data(), c.res())));
        assert_eq!(s.in_flight(), 0, "{what}");
        let back = 200 + taken.len() as u64;
        s.push(refused.into_inner()).unwrap();
        s.submit_and_wait(1).unwrap();
        let c = s.completions().next().expect("the op handed back");
        got.push((c.user_data(), c.res()));
        let mut want = ok(100..100 + u64::from(queued_n));
        want.extend(taken.iter().chain([&back]).map(|&u| (u, res(u))));
        Some((got, want))
    });
    if let Some((got, want)) = got {
        assert_eq!(got, want, "{what}");
    }
    assert_eq!((ring.pending(), ring.ready()), (0, 0), "{what}");
    ring.push(nop(7)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(
        drain(&mut ring),
        ok([7]),
        "{what}: only the new op completes"
    );
}

/// Submissions stopped early inside a scope, with the kernel's head at
/// every place: pushes behind the SQEs it left, to the SQ's last slot,
/// and scopes that end with them (stoppers among them) still queued.
#[test]
fn a_scope_fills_the_queue_behind_a_submission_the_kernel_stopped() {
    let _watch = watchdog();
    if !stoppers_stop() {
        return;
    }
    for entries in [2u32, 4, 8] {
        for head in 0..entries {
            for queued_n in 0..entries {
                for finish in [true, false] {
                    let tag_all = (head + queued_n) % 2 == 1;
                    stopped_inside_a_scope::<Sqe64>(entries, head, queued_n, finish, tag_all);
                    stopped_inside_a_scope::<Sqe128>(entries, head, queued_n, finish, !tag_all);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The completion queue
// ---------------------------------------------------------------------------

/// Every batch of completions (1 to all of the CQ's slots) from every place
/// of the CQ array of `ring`, read by one of `for_each`, `fold`, `sum`,
/// `count` and `last`: each completion is handed out once, in order, with
/// its extra words when `words` (NOPs made by `make`, which puts
/// `[user_data, !user_data]` there); the head moves past the batch, and
/// the kernel sees it there.
fn walk_every_place<C: UniformCqe>(
    mut ring: Ring<Sqe64, C>,
    make: &dyn Fn(u64) -> Nop,
    words: bool,
    what: &str,
) {
    let cq = u64::from(ring.cq_entries());
    let mut head = 0u64;
    for offset in 0..cq {
        for n in 1..=cq {
            move_cq_head(&mut ring, &mut head, offset);
            let base = 10_000 * offset + 100 * n;
            complete_unread(&mut ring, base, n, make);
            let way = (offset + n) % 6;
            let what = format!("{what}: head at {offset}, {n} completions, way {way}");
            let mut seen = Vec::new();
            let it = ring.completions();
            assert_eq!(it.size_hint(), (n as usize, Some(n as usize)), "{what}");
            let mut see = |cqe: C::Cqe| -> u64 {
                let u = cqe.as_ref().user_data();
                assert_eq!(cqe.as_ref().res(), 0, "{what}");
                if words {
                    assert_eq!(words_of(&cqe), Some([u, !u]), "{what}");
                }
                seen.push(u);
                u
            };
            match way {
                0 => it.for_each(|cqe| {
                    see(cqe);
                }),
                1 => {
                    let all = it.fold(Vec::new(), |mut all, cqe| {
                        all.push(see(cqe));
                        all
                    });
                    assert_eq!(all, (base..base + n).collect::<Vec<_>>(), "{what}");
                }
                2 => assert_eq!(
                    it.map(&mut see).sum::<u64>(),
                    (base..base + n).sum::<u64>(),
                    "{what}"
                ),
                3 => assert_eq!(it.map(&mut see).count() as u64, n, "{what}"),
                4 => assert_eq!(it.map(&mut see).last(), Some(base + n - 1), "{what}"),
                _ => {
                    let end = it.fold(base, |want, cqe| {
                        assert_eq!(see(cqe), want, "{what}");
                        want + 1
                    });
                    assert_eq!(end, base + n, "{what}");
                }
            }
            assert_eq!(seen, (base..base + n).collect::<Vec<_>>(), "{what}");
            assert!(ring.peek().is_none(), "{what}");
            head += n;
            kernel_sees_the_head(&mut ring, &mut head, &what);
        }
    }
}

/// CQs of every size from 2 to 16 (the kernel rounds a size up to a power
/// of two), filled through SQs of one and two entries: every batch from
/// every place of the array, runs of one and two slots before the wrap
/// among them, read by every kind of fold.
#[test]
fn every_cq_size_from_2_to_16_walks_each_completion_once_from_every_place() {
    let _watch = watchdog();
    for requested in 2..=16u32 {
        let sq = 1 + requested % 2;
        let ring = Builder::new().cq_entries(requested).build(sq).unwrap();
        assert_eq!(ring.cq_entries(), requested.next_power_of_two());
        walk_every_place(ring, &nop, false, &format!("CQ of {requested}, SQ of {sq}"));
    }
}

/// The same walks over 32-byte CQEs, whose slots the walk steps over one
/// by one too: CQs of 2 to 16. From Linux 6.18 on, each NOP puts two words
/// in its completion's extra 16 bytes, which every reader hands out whole.
#[test]
fn walks_over_32_byte_cqes_of_every_size_keep_their_extra_words() {
    let _watch = watchdog();
    let words = kernel_version() >= (6, 18);
    if !words {
        skip("NOPs put words in 32-byte completions from Linux 6.18 on: only plain ones here");
    }
    let with_words = |u: u64| Nop::new().big_cqe([u, !u]).user_data(u);
    let make: &dyn Fn(u64) -> Nop = if words { &with_words } else { &nop };
    for requested in [2u32, 3, 4, 8, 16] {
        let ring = Builder::new()
            .cq_entries(requested)
            .build_sized::<Sqe64, Cqe32>(2)
            .unwrap();
        assert_eq!(ring.cq_entries(), requested.next_power_of_two());
        walk_every_place(ring, make, words, &format!("32-byte CQ of {requested}"));
    }
}

/// For every batch from every place of the CQ array of `ring`, a panic in
/// the closure of `for_each`, `fold`, `sum`, `count` or `last` at every
/// completion: the completions handed out count as read, the others stay,
/// in order. They are read next by walks that unwind at their first
/// completion, each of which reads exactly one; an empty walk reads none;
/// and the kernel sees the head after the last.
fn panics_at_every_place<C: UniformCqe>(mut ring: Ring<Sqe64, C>, what: &str) {
    let cq = u64::from(ring.cq_entries());
    let mut head = 0u64;
    for offset in 0..cq {
        for n in 1..=cq {
            for at in 0..n {
                move_cq_head(&mut ring, &mut head, offset);
                let base = 1000;
                complete_unread(&mut ring, base, n, &nop);
                let way = (offset + n + at) % 5;
                let what =
                    format!("{what}: head at {offset}, {n} completions, stop at {at}, way {way}");
                let mut given = Vec::new();
                {
                    let it = ring.completions();
                    let mut hand = |cqe: C::Cqe| -> u64 {
                        let u = cqe.as_ref().user_data();
                        given.push(u);
                        if u == base + at {
                            stop();
                        }
                        u
                    };
                    expect_stop(|| match way {
                        0 => it.for_each(|cqe| {
                            hand(cqe);
                        }),
                        1 => {
                            let _ = it.fold(0u64, |acc, cqe| acc + hand(cqe));
                        }
                        2 => {
                            let _ = it.map(&mut hand).sum::<u64>();
                        }
                        3 => {
                            let _ = it.map(&mut hand).count();
                        }
                        _ => {
                            let _ = it.map(&mut hand).last();
                        }
                    });
                }
                assert_eq!(given, (base..=base + at).collect::<Vec<_>>(), "{what}");
                assert_eq!(u64::from(ring.ready()), n - at - 1, "{what}");
                for k in at + 1..n {
                    let mut one = Vec::new();
                    expect_stop(|| {
                        ring.completions().for_each(|cqe| {
                            one.push(cqe.as_ref().user_data());
                            if !one.is_empty() {
                                stop();
                            }
                        })
                    });
                    assert_eq!(one, [base + k], "{what}");
                    assert_eq!(u64::from(ring.ready()), n - k - 1, "{what}");
                }
                let again = ring.completions().fold(Vec::new(), |mut again, cqe| {
                    again.push(cqe.as_ref().user_data());
                    again
                });
                assert_eq!(again, [], "{what}: read again");
                head += n;
                kernel_sees_the_head(&mut ring, &mut head, &what);
            }
        }
    }
}

/// Panics at every completion of every batch from every place, on CQs of
/// 2, 4, 8 and 16 16-byte CQEs and 2 and 4 32-byte ones.
#[test]
fn a_panic_at_every_completion_of_every_walk_leaves_exactly_the_rest() {
    let _watch = watchdog();
    for cq in [2u32, 4, 8, 16] {
        let ring = Builder::new().cq_entries(cq).build(cq).unwrap();
        panics_at_every_place(ring, &format!("CQ of {cq}"));
    }
    for cq in [2u32, 4] {
        let ring = Builder::new()
            .cq_entries(cq)
            .build_sized::<Sqe64, Cqe32>(cq)
            .unwrap();
        panics_at_every_place(ring, &format!("32-byte CQ of {cq}"));
    }
}

/// In scopes of a ring whose SQ and CQ have `cq` entries each, every batch
/// of the scope's ops from every place of the CQ array, read by the
/// scope's `for_each`, `fold`, `sum` or `count`, whose closure unwinds at
/// every completion: the completions handed out count as read and their
/// ops leave the scope's count, the others stay, in order, for walks that
/// unwind at their first completion, each of which reads exactly one. The
/// scope goes on (an op pushed after completes), and the kernel sees the
/// head where the walks left it: a full CQ's worth of completions fits.
fn scope_panics_at_every_place(cq: u32, tag_all: bool) {
    let mut ring = Ring::builder().cq_entries(cq).build(cq).unwrap();
    let cap = u64::from(cq);
    let mut head = 0u64;
    if tag_all {
        make_scopes_tag_every_op(&mut ring);
        head = 1;
    }
    for offset in 0..cap {
        for n in 1..=cap {
            for at in 0..n {
                let by = (offset + cap - head % cap) % cap;
                move_in_scopes(&mut ring, by);
                head += by;
                let way = (offset + n + at) % 4;
                let what = format!(
                    "CQ of {cq}, tag_all {tag_all}: head at {offset}, {n} ops, stop at {at}, \
                     way {way}"
                );
                ring.scope(|s| {
                    assert_eq!(s.tags_every_op(), tag_all);
                    for i in 0..n {
                        s.push(nop(i)).unwrap();
                    }
                    s.submit_and_wait(n as u32).unwrap();
                    let mut given = Vec::new();
                    {
                        let it = s.completions();
                        let mut hand = |c: uring::ScopeCqe<'_>| -> u64 {
                            assert!(c.is_scope_op());
                            let u = c.user_data();
                            given.push(u);
                            if u == at {
                                stop();
                            }
                            u
                        };
                        expect_stop(|| match way {
                            0 => it.for_each(|c| {
                                hand(c);
                            }),
                            1 => {
                                let _ = it.fold(0u64, |acc, c| acc + hand(c));
                            }
                            2 => {
                                let _ = it.map(&mut hand).sum::<u64>();
                            }
                            _ => {
                                let _ = it.map(&mut hand).count();
                            }
                        });
                    }
                    assert_eq!(given, (0..=at).collect::<Vec<_>>(), "{what}");
                    assert_eq!(u64::from(s.in_flight()), n - at - 1, "{what}");
                    assert_eq!(u64::from(s.ready()), n - at - 1, "{what}");
                    for k in at + 1..n {
                        let mut one = Vec::new();
                        expect_stop(|| {
                            s.completions().for_each(|c| {
                                one.push(c.user_data());
                                if !one.is_empty() {
                                    stop();
                                }
                            })
                        });
                        assert_eq!(one, [k], "{what}");
                        assert_eq!(u64::from(s.in_flight()), n - k - 1, "{what}");
                    }
                    let again = s.completions().fold(Vec::new(), |mut again, c| {
                        again.push(c.user_data());
                        again
                    });
                    assert_eq!(again, [], "{what}: read again");
                    // The kernel sees the head past every walk: the CQ
                    // takes one completion per slot, and the scope goes on.
                    for i in 0..cap {
                        s.push(nop(500 + i)).unwrap();
                    }
                    assert_eq!(u64::from(s.submit().unwrap()), cap, "{what}");
                    assert_eq!(u64::from(s.ready()), cap, "{what}: the CQ overflowed");
                    let mut after = Vec::new();
                    for c in s.completions() {
                        after.push(c.user_data());
                    }
                    assert_eq!(after, (500..500 + cap).collect::<Vec<_>>(), "{what}");
                    assert_eq!(s.in_flight(), 0, "{what}");
                });
                head += n + cap;
                assert_eq!(ring.ready(), 0, "{what}");
            }
        }
    }
}

/// A scope's walks unwound at every completion, on CQs of 2, 4, 8 and 16,
/// in scopes that tag few ops and scopes that tag every op.
#[test]
fn a_scope_s_walk_unwound_at_every_completion_of_every_cq_size_loses_nothing() {
    let _watch = watchdog();
    for cq in [2u32, 4, 8, 16] {
        for tag_all in [false, true] {
            scope_panics_at_every_place(cq, tag_all);
        }
    }
}
