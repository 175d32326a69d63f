//! A scope's bookkeeping: the slots its ops hold, the tags their SQEs
//! carry, and the keys those tags are drawn with.

use crate::buf_ring::Buf;
use crate::cqueue::Cqe;
use crate::error::PushErrorKind;
use crate::sys;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `user_data ^ key` of the scope's own cancel requests. Its low half is
/// no slot index: a CQ never has 2^32 - 1 entries.
pub(super) const INTERNAL: u64 = u64::MAX;

/// The longest wait between two rounds of cancelling what is left when a
/// scope ends.
pub(super) const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// Rounds of cancels after which a scope's end lets the CQ fill up in
/// every other wait: the kernel ends a multishot op that finds no room
/// for a completion, cancelled or not.
pub(super) const FILL_AFTER_ROUNDS: u32 = 3;

/// How long a scope's end waits for the notifications of its orphans (see
/// [`ScopeTable::orphans`]) once every op has posted its last completion.
pub(super) const ORPHAN_PATIENCE: Duration = Duration::from_millis(100);

/// The fewest orphans a scope remembers; it remembers as many as its CQ
/// has entries when that is more (see [`ScopeTable::orphan`]).
pub(super) const MAX_ORPHANS: usize = 64;

/// One op of the scope, or a free place for one.
#[derive(Clone, Copy, Default)]
pub(super) struct Slot {
    /// While an op holds the slot, the tag its SQE carries: `key ^ (count
    /// << 32 | index)`, `count` with its top bit set and different for each
    /// op the scope pushes (so that a stale tag, such as a cancel aimed at
    /// an op that has completed meanwhile, never matches the slot's next
    /// op). Keys have [`LIVE`] clear, so every tag has it set. While the
    /// slot is free, [`FREE`], which has it clear.
    pub(super) tag: u64,
    /// The caller's `user_data`; while the slot is free, the index of the
    /// next free slot.
    pub(super) user_data: u64,
    /// The provided-buffer group the op selects from (low half, or
    /// [`NO_GROUP`], or one of the markers of ops that select none:
    /// [`ZERO_COPY_SEND`], [`NEW_FD`]) and the owned buffer it uses (high
    /// half: an index into `ScopeTable::owned`, or with [`RENAME`] set the
    /// rename its success makes, an index into `ScopeTable::renames`, or
    /// [`NO_OWNED`]). Both absent, as for most ops, it is [`NO_EXTRA`],
    /// checked at once.
    pub(super) extra: u64,
}

/// The bit every tag has, and no key and no free slot's mark: the top bit,
/// which no user-space pointer has, so that the `user_data` of most ops can
/// go untagged in a fast scope, and whose test is a sign test.
pub(super) const LIVE: u64 = 1 << 63;

/// The top bit of every tag's count, which puts [`LIVE`] in the tag.
const COUNT_LIVE: u32 = 1 << 31;

/// A free slot's `tag`.
pub(super) const FREE: u64 = 0;

/// A slot's op selects no buffer and uses no owned buffer.
pub(super) const NO_EXTRA: u64 = u64::MAX;

/// The `extra` of a slot whose op selects from `group` and uses `owned`.
#[inline(always)]
pub(super) fn extra(group: u32, owned: u32) -> u64 {
    // (mutants: `^` for `|` is equivalent: the halves do not overlap.)
    u64::from(owned) << 32 | u64::from(group)
}

/// A slot's op uses no owned buffer.
pub(super) const NO_OWNED: u32 = u32::MAX;

/// Marks a slot's `owned` as the index of a [`Rename`].
pub(super) const RENAME: u32 = 1 << 31;

/// With [`RENAME`], marks a slot's `owned` as the index of an owned entry
/// that holds a claimed buffer (see [`ScopeTable::claims`]): its ops'
/// last completions take the renames' way, off the path of owned vectors.
/// (Neither renames nor owned entries reach this many.)
pub(super) const CLAIM: u32 = 1 << 30;

/// A poll update of the scope that gives one of the scope's polls a new
/// `user_data`: the kernel keeps the poll's tag, and the scope gives the
/// poll's slot the new `user_data` once the update has succeeded.
#[derive(Clone, Copy)]
pub(super) struct Rename {
    pub(super) slot: u32,
    /// The tag of the poll, which must still hold the slot.
    pub(super) tag: u64,
    pub(super) user_data: u64,
}

/// A buffer given to the scope with [`Scope::push_owned`], kept until the
/// ops over it have completed.
pub(super) struct OwnedEntry {
    pub(super) buf: Option<Vec<u8>>,
    /// The SQEs over it that have not posted their last completion.
    pub(super) remaining: u32,
    /// While the entry is free: the next free entry, or [`NO_ENTRY`].
    next_free: u32,
}

/// The end of the owned entries' free list.
const NO_ENTRY: u32 = u32::MAX;

/// A claimed buffer the scope holds for the ops pushed over it.
///
/// Its lifetime is erased: the scope gives it back to its ring (drops it)
/// once those ops have posted their last completion, and the scope ends
/// after them, within the `'scope` that the `Buf` outlived. So the
/// `BufRing` it borrows is alive whenever it is dropped or handed back.
pub(super) struct KeptClaim {
    buf: ManuallyDrop<Buf<'static>>,
    /// The thread that gave it (the address of a thread-local).
    thread: usize,
}

// SAFETY: a `KeptClaim` that moves to another thread (with its ring, or a
// scope moved there) never touches its `BufRing` from there: its drop
// gives the buffer back only on the thread that kept it, and `into_buf` is
// called by `push_claimed` on the thread of the `keep_claimed` just before.
unsafe impl Send for KeptClaim {}

// SAFETY: a shared `KeptClaim` offers nothing: no method takes `&self`.
unsafe impl Sync for KeptClaim {}

thread_local! {
    /// A per-thread address: which thread is running.
    static HERE: u8 = const { 0 };
}

/// The address of this thread's [`HERE`], different for each live thread.
fn this_thread() -> usize {
    HERE.with(|h| std::ptr::from_ref(h) as usize)
}

impl KeptClaim {
    /// Keeps `buf`, given on this thread.
    fn new(buf: Buf<'_>) -> KeptClaim {
        // SAFETY: only the lifetime changes. The table drops the buffer or
        // hands it back (`into_buf`, to its lifetime) before the scope it
        // was given to ends, which its `BufRing` outlives.
        let buf = unsafe { std::mem::transmute::<Buf<'_>, Buf<'static>>(buf) };
        KeptClaim {
            buf: ManuallyDrop::new(buf),
            thread: this_thread(),
        }
    }

    /// The buffer, with the lifetime it had.
    ///
    /// # Safety
    ///
    /// `'a` must be the lifetime the buffer was given with (or shorter).
    pub(super) unsafe fn into_buf<'a>(self) -> Buf<'a> {
        let mut me = ManuallyDrop::new(self);
        // SAFETY: taken once, from a value that is not dropped after.
        let buf = unsafe { ManuallyDrop::take(&mut me.buf) };
        // SAFETY: the caller gives back the lifetime erased in `new`.
        unsafe { std::mem::transmute::<Buf<'static>, Buf<'a>>(buf) }
    }
}

impl Drop for KeptClaim {
    /// Gives the buffer back to its ring, on the thread that claimed it: a
    /// `BufRing` is used by one thread only. A scope moved to another
    /// thread (a `&mut Scope` is `Send`) leaves the buffer lent for good
    /// instead, which costs the ring one buffer and touches nothing.
    fn drop(&mut self) {
        if self.thread == this_thread() {
            // SAFETY: dropped once, here; its ring is alive (see the type).
            unsafe { ManuallyDrop::drop(&mut self.buf) }
        }
    }
}

/// A slot's op selects no provided buffer.
pub(super) const NO_GROUP: u32 = u32::MAX;

/// What [`ScopeTable::settle`] learned of an op's last completion: an
/// owned buffer came back, in `ScopeTable::returned`.
pub(super) const RETURNED: u8 = 1;

/// What [`ScopeTable::settle`] learned of an op's last completion: the
/// kernel's head of its incremental group was read as it was settled (see
/// [`ScopeTable::leave_group`]).
pub(super) const HEAD_READ: u8 = 2;

/// With [`HEAD_READ`]: that head was odd.
pub(super) const HEAD_ODD: u8 = 4;

/// The group of a slot whose op is a zero-copy send linked after another
/// SQE (see [`ScopeTable::orphans`]): it selects no buffer (the kernel
/// refuses buffer selection on zero-copy sends), and no group has this
/// number.
pub(super) const ZERO_COPY_SEND: u32 = u32::MAX - 1;

/// The group of a slot whose op makes a new regular descriptor of the
/// process and completes with its number (see `push::new_descriptor`): it
/// selects no buffer (the kernel refuses buffer selection on these ops),
/// and no group has this number. It reaches the op's completions as their
/// [`ScopeCqe`](super::ScopeCqe)'s group, which is what
/// [`ScopeCqe::take_fd`](super::ScopeCqe::take_fd) reads.
pub(super) const NEW_FD: u32 = u32::MAX - 2;

/// The group of a slot whose op is a `Pipe` that makes regular descriptors
/// and writes them to the first eight bytes of the owned buffer it was
/// pushed over ([`ScopeTable::pipe_marker`]): its completion, which brings
/// the buffer back, hands the two ends over
/// ([`ScopeCqe::take_pipe`](super::ScopeCqe::take_pipe)). No group has
/// this number.
pub(super) const NEW_PIPE: u32 = u32::MAX - 3;

/// Set in the group of a slot whose op is a bundle (a receive or send
/// that may take several buffers of its group): its completion's bytes
/// run over consecutive buffers of the ring. (Above every group id, below
/// the three markers above, which have it set too: read it only from a
/// group that is none of them.)
pub(crate) const BUNDLE: u32 = 1 << 16;

/// The end of the free list.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// The free list's head in a scope that has no room because a
/// `RingTarget` of the ring was alive when it began (see `Ring::scope`):
/// never followed, as no slot is free.
pub(super) const TARGETED: u32 = u32::MAX - 1;

/// The free list's head in a scope that has no room because its ring has
/// no descriptor and its registered index belongs to another thread (see
/// `Ring::scope`): never followed, as no slot is free.
pub(super) const OTHER_THREAD: u32 = u32::MAX - 2;

/// Whose a completion is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Owner {
    /// An op pushed in the scope.
    Op,
    /// One of the scope's own cancel requests.
    Internal,
    /// Not the scope's.
    Foreign,
}

/// The bookkeeping of scopes, kept in the ring between them so that a scope
/// allocates nothing once the ring has had one of the same size.
pub(crate) struct ScopeTable {
    /// The ring's id, for the completions handed out.
    pub(super) ring: u32,
    /// This scope's key, fresh from the OS for each scope.
    pub(super) key: u64,
    /// The count in the last tag handed out (top bit set).
    pub(super) count: u32,
    /// Whether every completion that reaches the ring during the scope is
    /// one of the scope's (the ring has no `outside` ops): then an op that
    /// needs no bookkeeping keeps its own `user_data` and takes no slot.
    pub(super) fast: bool,
    /// [`LIVE`] in a fast scope, 0 in one that tags every op: the
    /// `user_data` below it are those left untagged, which makes
    /// [`ScopeTable::untagged`] one comparison.
    pub(super) untagged_below: u64,
    pub(super) slots: Vec<Slot>,
    /// How many ops the scope may have in flight: the CQ's entries when it
    /// began, or after [`Scope::resize`](super::Scope::resize); never more
    /// than the slots.
    room: u32,
    /// The first free slot; each free slot names the next.
    pub(super) free_head: u32,
    /// SQEs of the scope (those from `start_tail` on) that are no longer
    /// in flight: its ops' whose last completion was read, and its own
    /// cancel requests, from their push on (their completions are counted
    /// in `internal`). The ops in flight are the rest, so that a push
    /// counts itself by moving the SQ's tail: see [`live`](Self::live).
    pub(super) done: u32,
    /// The scope's cancel requests whose completion has not been read.
    pub(super) internal: u32,
    /// The last stamp given to a completion of an op that selected a
    /// buffer: it grows with every such completion the ring's scopes
    /// settle, and is never reset, so that a claim can tell which of two
    /// completions of a buffer the kernel posted first.
    pub(super) stamps: u64,
    /// The SQ tail when the scope began: the SQEs from it on are the scope's.
    pub(super) start_tail: u32,
    /// Room for the foreign completions of a full CQ.
    pub(super) scratch: Vec<Cqe>,
    /// Buffers the scope owns, and the free entries among them.
    pub(super) owned: Vec<OwnedEntry>,
    /// The first free owned entry, or [`NO_ENTRY`]: the free entries are
    /// linked through their `next_free`.
    owned_free: u32,
    /// The claimed buffers the scope holds (`push_claimed`), with the owned
    /// entry of each, until their ops' last completions.
    claims: Vec<(u32, KeptClaim)>,
    /// Renames waiting for their update's completion, and the free entries.
    pub(super) renames: Vec<Rename>,
    pub(super) renames_free: Vec<u32>,
    /// For each `user_data` that several live ops carry and that an op
    /// named: how many ops named it, so that the next names the next of
    /// them (see [`pick`](Self::pick)).
    named_turns: std::collections::HashMap<u64, u32>,
    /// Tags of zero-copy sends linked after another SQE that failed with
    /// no `IORING_CQE_F_MORE`, which says no notification follows: Linux
    /// 6.18 posts one all the same when the link fails them (cancelled, or
    /// refused after the notification was allocated). The scope takes it
    /// in when it comes, and waits a little for those due at its end, so
    /// that none comes out with a stale tag. (At most as many as the CQ has
    /// entries, or [`MAX_ORPHANS`] if more, the oldest forgotten first: a
    /// send the kernel refused before allocating its notification never
    /// gets one.)
    pub(super) orphans: Vec<u64>,
    /// The ring's incrementally consumed buffer groups, each with the
    /// number of the scope's ops selecting from it that have not posted
    /// their last completion (at most one: see [`ScopeTable::enter_group`]),
    /// and whether its buffer ring is still registered (cleared when the
    /// ring's `BufRing` or `RawBufRing` unregisters it: the group is then
    /// forgotten at the next scope's beginning, once no op selects from
    /// it).
    pub(super) incremental: Vec<(u16, u32, Arc<AtomicBool>)>,
    /// The ring's descriptor, through which [`ScopeTable::leave_group`]
    /// reads a group's head; -1 outside a scope.
    pub(super) fd: std::os::fd::RawFd,
    /// The owned buffer the last completion settled handed back, until the
    /// completion's reader takes it.
    pub(super) returned: Option<Vec<u8>>,
}

impl Default for ScopeTable {
    fn default() -> Self {
        ScopeTable {
            ring: 0,
            key: 0,
            count: COUNT_LIVE,
            fast: false,
            untagged_below: 0,
            slots: Vec::new(),
            room: 0,
            free_head: NO_SLOT,
            done: 0,
            internal: 0,
            stamps: 0,
            start_tail: 0,
            scratch: Vec::new(),
            owned: Vec::new(),
            owned_free: NO_ENTRY,
            claims: Vec::new(),
            renames: Vec::new(),
            renames_free: Vec::new(),
            named_turns: std::collections::HashMap::new(),
            orphans: Vec::new(),
            incremental: Vec::new(),
            fd: -1,
            returned: None,
        }
    }
}

impl ScopeTable {
    /// Readies the table for a scope over a CQ of `capacity` entries.
    pub(super) fn begin(&mut self, ring: u32, capacity: u32, start_tail: u32, fast: bool) {
        if !self.incremental.is_empty() {
            self.forget_unregistered_groups();
        }
        self.ring = ring;
        self.fast = fast;
        self.untagged_below = if fast { LIVE } else { 0 };
        self.key = super::key::fresh_key() & !LIVE;
        if self.slots.len() != capacity as usize {
            // The end of the free list is marked, but never followed:
            // the SQ's limit guards every `take` (see `admit`). (mutants: so the marks of
            // the last slot and of an empty table are equivalent to any
            // other value: `<=` for `<` and `*` for `+` below, `>=` for `>`
            // in `free_head`.)
            self.slots = (0..capacity)
                .map(|i| Slot {
                    tag: FREE,
                    user_data: u64::from(if i + 1 < capacity { i + 1 } else { NO_SLOT }),
                    extra: NO_EXTRA,
                })
                .collect();
            self.free_head = if capacity > 0 { 0 } else { NO_SLOT };
            self.scratch = Vec::with_capacity(capacity as usize);
        }
        self.room = capacity;
        self.start_tail = start_tail;
        self.done = 0;
    }

    /// Notes whether `group` is consumed incrementally
    /// (`IOU_PBUF_RING_INC`), as a buffer ring is registered under it:
    /// returns, for an incremental one, the mark its buffer ring clears
    /// when it unregisters the group.
    ///
    /// (mutants: the guard on the count is equivalent to `true`: a
    /// registration needs the ring borrowed mutably, so no scope runs and
    /// every count is back at 0; it stays as a defence.)
    pub(crate) fn set_incremental(
        &mut self,
        group: u16,
        incremental: bool,
    ) -> Option<Arc<AtomicBool>> {
        // An entry of an earlier registration under the same id is of a
        // ring unregistered since (the kernel refuses a second ring for a
        // group): it goes.
        self.incremental
            .retain(|(g, busy, _)| *g != group || *busy != 0);
        if !incremental {
            return None;
        }
        let registered = Arc::new(AtomicBool::new(true));
        self.incremental.push((group, 0, Arc::clone(&registered)));
        Some(registered)
    }

    /// Forgets the incremental groups whose buffer ring was unregistered
    /// and that no op selects from: ops of a group used otherwise since
    /// (legacy provided buffers) run as any others'.
    #[cold]
    fn forget_unregistered_groups(&mut self) {
        self.incremental
            .retain(|(_, busy, registered)| *busy != 0 || registered.load(Ordering::Relaxed));
    }

    /// Whether `group` is consumed incrementally.
    #[cold]
    pub(super) fn is_incremental(&self, group: u32) -> bool {
        self.incremental
            .iter()
            .any(|(g, _, _)| u32::from(*g) == group)
    }

    /// Lets an op select from `group` unless the group is consumed
    /// incrementally and another of the scope's ops selects from it.
    ///
    /// The completions of an incremental group name a buffer but not where
    /// in it the op wrote: each continues where the last one of that buffer
    /// ended only while one op at a time consumes the group. Claims rely on
    /// it, so the scope runs the ops of such a group one after the other.
    #[cold]
    pub(super) fn enter_group(&mut self, group: u32) -> bool {
        match self
            .incremental
            .iter_mut()
            .find(|(g, _, _)| u32::from(*g) == group)
        {
            None => true,
            Some((_, busy, _)) if *busy == 0 => {
                *busy = 1;
                true
            }
            Some(_) => false,
        }
    }

    /// The op of `group` (with the bundle bit if it was a bundle) has
    /// posted its last completion, `cqe`: of an incremental group, the
    /// group is free for the next op. If `cqe` names a buffer, took no data
    /// and is not flagged `BUF_MORE` (nor `MORE`), and the op was not a
    /// bundle, returns [`HEAD_READ`] with the kernel's head of the group
    /// ([`HEAD_ODD`] its lowest bit), read now: the op was the only one of
    /// its group in flight, and no later one can have selected yet. Only
    /// the head tells whether the kernel took the buffer off the ring and
    /// let go of it, or left it at the head (see `BufRing::last_released`).
    #[cold]
    pub(super) fn leave_group(&mut self, group: u32, cqe: &Cqe) -> u8 {
        let id = group & !BUNDLE;
        let Some(entry) = self
            .incremental
            .iter_mut()
            .find(|(g, _, _)| u32::from(*g) == id)
        else {
            return 0;
        };
        entry.1 = entry.1.saturating_sub(1);
        let flags = cqe.flags();
        let empty_and_done = cqe.res() <= 0
            && flags & sys::IORING_CQE_F_BUFFER != 0
            && flags & (sys::IORING_CQE_F_BUF_MORE | sys::IORING_CQE_F_MORE) == 0;
        if !empty_and_done || group & BUNDLE != 0 {
            return 0;
        }
        match crate::buf_ring::status_head_raw(self.fd, id as u16) {
            Ok(head) if head & 1 != 0 => HEAD_READ | HEAD_ODD,
            Ok(_) => HEAD_READ,
            Err(_) => 0,
        }
    }

    /// Whether `user_data` could be one of the scope's tags, or its cancel
    /// requests' (both have [`LIVE`] set): an op that carries it keeps a
    /// slot, even in a fast scope, so that its completions never pass for
    /// another op's, and a completion without it is never a tag's.
    #[inline(always)]
    pub(super) fn is_tag_like(user_data: u64) -> bool {
        user_data & LIVE != 0
    }

    /// Whether `user_data` is one that a fast scope leaves untagged: in a
    /// fast scope, one that cannot pass for a tag; in any other, none.
    #[inline(always)]
    pub(super) fn untagged(&self, user_data: u64) -> bool {
        Self::untagged_in(user_data, self.untagged_below)
    }

    /// [`untagged`](Self::untagged) with the scope's `untagged_below`
    /// given: in a fast scope, the values without [`LIVE`]; in any other,
    /// none.
    #[inline(always)]
    pub(super) fn untagged_in(user_data: u64, untagged_below: u64) -> bool {
        user_data < untagged_below
    }

    /// Whether an op holds slot `index`.
    pub(super) fn is_live(&self, index: u32) -> bool {
        self.slots
            .get(index as usize)
            .is_some_and(|slot| slot.tag & LIVE != 0)
    }

    /// Slots held by tagged ops.
    pub(super) fn tagged(&self) -> u32 {
        (0..self.slots.len() as u32)
            .filter(|&i| self.is_live(i))
            .count() as u32
    }

    /// The ops of the scope that have not posted their last completion,
    /// with the SQ's tail at `tail`: every SQE pushed from the scope's
    /// start on is an op of it or one of its cancel requests, and each
    /// leaves the count (see [`done`](Self::done)) once.
    #[inline(always)]
    pub(super) fn live(&self, tail: u32) -> u32 {
        tail.wrapping_sub(self.start_tail).wrapping_sub(self.done)
    }

    /// How many ops the scope can track in flight at once: at most one per
    /// slot.
    #[inline(always)]
    fn capacity(&self) -> u32 {
        self.room
    }

    /// Lets the scope have `room` ops in flight, at least as many as it
    /// has now (with the SQ's tail at `tail`), after its ring's CQ was
    /// resized: slots are added for more, and kept (the free ones unused)
    /// for fewer, since the ops in flight may hold any of them. A scope
    /// without room (see `Ring::scope`) keeps none.
    pub(super) fn set_room(&mut self, room: u32, tail: u32) {
        if self.slots.is_empty() {
            return;
        }
        let room = room.max(self.live(tail));
        let old = self.slots.len() as u32;
        if room > old {
            // The new slots go at the head of the free list, each naming
            // the next, the last the old head.
            let head = self.free_head;
            self.slots.extend((old..room).map(|i| Slot {
                tag: FREE,
                user_data: u64::from(if i + 1 < room { i + 1 } else { head }),
                extra: NO_EXTRA,
            }));
            self.free_head = old;
        }
        self.room = room;
    }

    /// The tail at which the scope's pushes stop: that of the push that
    /// would put one more op in flight than the scope tracks. (It moves on
    /// as completions are read; the SQ learns of it on the cold path of a
    /// push, where [`admit`](Self::admit) is asked.)
    pub(super) fn limit(&self) -> u32 {
        self.start_tail
            .wrapping_add(self.done)
            .wrapping_add(self.capacity())
    }

    /// Lets a push of `sqes` SQEs from `tail` on go on, with the SQ's limit
    /// where it now is; or says why it cannot: a scope of a disabled or
    /// targeted ring has no room at all (see `Ring::scope`).
    ///
    /// This is what keeps every `take` in bounds: a tagged op holds a slot
    /// from its push to its last completion, so the ops holding slots are
    /// among those in flight, which the limit keeps within the slots.
    #[cold]
    pub(super) fn admit(&self, tail: u32, sqes: u32) -> Result<Option<u32>, PushErrorKind> {
        if self.capacity().saturating_sub(self.live(tail)) >= sqes {
            return Ok(Some(self.limit()));
        }
        Err(if self.slots.is_empty() {
            match self.free_head {
                TARGETED => PushErrorKind::Targeted,
                OTHER_THREAD => PushErrorKind::OtherThread,
                _ => PushErrorKind::Disabled,
            }
        } else {
            PushErrorKind::ScopeFull
        })
    }

    /// Notes a cancel request of the scope's own, just pushed.
    pub(super) fn pushed_internal(&mut self) {
        self.internal += 1;
        self.done += 1;
    }

    /// Whether nothing of the scope is in flight, with the SQ's tail at
    /// `tail`.
    pub(super) fn settled(&self, tail: u32) -> bool {
        self.live(tail) == 0 && self.internal == 0 && self.orphans.is_empty()
    }

    /// Whether every op has settled and only orphans' notifications are
    /// awaited, with the SQ's tail at `tail`.
    pub(super) fn only_orphans(&self, tail: u32) -> bool {
        self.live(tail) == 0 && self.internal == 0 && !self.orphans.is_empty()
    }

    /// Takes a free slot for an op whose `user_data` is `user_data`, which
    /// selects from `group` (or [`NO_GROUP`]) and uses the owned buffer
    /// `owned` (or [`NO_OWNED`]); returns the tag its SQE carries instead.
    /// The caller has checked that a slot is free (the SQ's limit has).
    #[inline(always)]
    pub(super) fn take(&mut self, user_data: u64, extra: u64) -> u64 {
        let index = self.free_head;
        debug_assert!((index as usize) < self.slots.len());
        // SAFETY: with a free slot (checked by the caller), the head of the
        // free list is the index of one, below `slots.len()`.
        let slot = unsafe { self.slots.get_unchecked_mut(index as usize) };
        self.free_head = slot.user_data as u32;
        // With its top bit set, so that every tag has `LIVE` set.
        self.count = self.count.wrapping_add(1) | COUNT_LIVE;
        // (mutants: `^` for `|` is equivalent: the halves do not overlap.)
        let tag = self.key ^ (u64::from(self.count) << 32 | u64::from(index));
        slot.tag = tag;
        slot.user_data = user_data;
        slot.extra = extra;
        tag
    }

    /// The tag of the live slot `index`.
    pub(super) fn tag(&self, index: u32) -> u64 {
        self.slots[index as usize].tag
    }

    /// Whether `user_data` is the tag of the scope's cancel requests, with
    /// one outstanding.
    ///
    /// (mutants: `>=` for `>` is equivalent: that tag comes back only from
    /// a request the count includes; the count guards against a miscount.)
    pub(super) fn is_internal(&self, user_data: u64) -> bool {
        user_data ^ self.key == INTERNAL && self.internal > 0
    }

    /// Says whose `cqe` is, and for the scope's ops the buffer group they
    /// selected from (or [`NO_GROUP`]); restores the caller's `user_data`,
    /// and at the op's last completion frees the slot and, once no op uses
    /// it any more, puts its owned buffer in `returned`.
    #[inline(always)]
    pub(super) fn settle(&mut self, cqe: &mut Cqe) -> (Owner, u32, u8) {
        let user_data = cqe.user_data();
        if self.untagged(user_data) {
            self.settle_untagged_op(cqe.flags());
            return (Owner::Op, NO_GROUP, 0);
        }
        if !Self::is_tag_like(user_data) {
            // No tag in a scope that tags every op: someone else's.
            return (Owner::Foreign, NO_GROUP, 0);
        }
        let index = (user_data ^ self.key) as u32;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            // Only the live slot's own tag matches: an earlier op's tag had
            // another count, and a free slot's mark (which a foreign
            // `user_data` may equal) lacks `LIVE`.
            if slot.tag != user_data {
                return self.settle_untagged(cqe);
            }
            cqe.set_user_data(slot.user_data);
            let extra = slot.extra;
            let mut learned = 0;
            if !cqe.has_more() {
                slot.tag = FREE;
                slot.user_data = u64::from(self.free_head);
                self.free_head = index;
                self.done += 1;
                if extra != NO_EXTRA {
                    learned = self.finish_extra(extra, user_data, cqe);
                }
            }
            (Owner::Op, extra as u32, learned)
        } else {
            self.settle_untagged(cqe)
        }
    }

    /// The stamp of a completion settled with `group`: a fresh one, larger
    /// than every earlier one, if the op selected a buffer; else 0.
    #[inline]
    pub(super) fn stamp(&mut self, group: u32) -> u64 {
        // Group ids are 16 bits, with the bundle bit above them; the
        // markers of ops without a group are above both.
        if group > (BUNDLE | u32::from(u16::MAX)) {
            return 0;
        }
        self.stamps += 1;
        self.stamps
    }

    /// A completion without a tag in a fast scope: one of its untagged ops'
    /// (nothing else posts into the ring), which is done at a completion
    /// not flagged `IORING_CQE_F_MORE`, the kernel's word that more will
    /// come. An op that may post more than one is tagged, so each untagged
    /// op's only completion ends it; `F_MORE` is read all the same, so that
    /// an op the library took for one of a single completion (a flag whose
    /// meaning a kernel changes, as Linux 6.18 did for send bundles) still
    /// holds its borrows until its last. The other completions that are not
    /// an op's last never reach an untagged op: a notification (`F_NOTIF`)
    /// is a zero-copy op's, and those are always tagged, and padding
    /// (`F_SKIP`) is a mixed CQ's, on which no scope runs, or comes on a
    /// plain one before a message flagged `F_32`, which only a ring named
    /// as a message target receives (its scopes tag every op). Debug
    /// builds check both.
    #[inline(always)]
    pub(super) fn settle_untagged_op(&mut self, flags: u32) {
        debug_assert_eq!(
            flags & (sys::IORING_CQE_F_NOTIF | sys::IORING_CQE_F_SKIP),
            0,
            "a notification or padding for an untagged op"
        );
        self.done += u32::from(flags & sys::IORING_CQE_F_MORE == 0);
    }

    /// A completion shaped like a tag that is no live op's: one of the
    /// scope's cancel requests', or someone else's.
    #[inline(always)]
    fn settle_untagged(&mut self, cqe: &Cqe) -> (Owner, u32, u8) {
        if self.is_internal(cqe.user_data()) {
            self.internal -= 1;
            (Owner::Internal, NO_GROUP, 0)
        } else if !self.orphans.is_empty() && cqe.is_notification() {
            // (mutants: `||` is equivalent: `adopt` finds no orphan in an
            // empty list, and only a notification carries an orphan's tag.)
            (self.adopt(cqe.user_data()), NO_GROUP, 0)
        } else {
            (Owner::Foreign, NO_GROUP, 0)
        }
    }

    /// The last completion of an op that selected a buffer or used an
    /// owned buffer or a rename: the group is free again, the owned buffer
    /// returned once no op uses it, the rename made if it succeeded.
    /// Returns what it learned: [`RETURNED`] if an owned buffer came back
    /// (in `returned`), and the marks of [`ScopeTable::leave_group`]. `tag`
    /// is the op's, `cqe` its last completion.
    #[inline]
    fn finish_extra(&mut self, extra: u64, tag: u64, cqe: &Cqe) -> u8 {
        let (group, owned) = (extra as u32, (extra >> 32) as u32);
        let mut learned = 0;
        if group == ZERO_COPY_SEND {
            self.orphan(tag, cqe);
        } else if group != NO_GROUP && !self.incremental.is_empty() {
            // (mutants: `||` is equivalent: `leave_group` finds neither
            // `NO_GROUP` nor any group in an empty list. `NEW_FD` gets here
            // too, and is no group's id either.)
            learned = self.leave_group(group, cqe);
        }
        let res = cqe.res();
        if owned != NO_OWNED {
            if owned & RENAME == 0 {
                // SAFETY: `owned` is the slot's, which `take` wrote from a
                // push over an entry `keep_owned` handed out in this scope.
                self.returned = unsafe { self.finish_owned(owned) };
                if self.returned.is_some() {
                    learned |= RETURNED;
                }
            } else {
                self.finish_named(owned, res);
            }
        }
        learned
    }

    /// The zero-copy send that carried `tag` posted its last completion
    /// `cqe`: notes it if a notification may come after it.
    fn orphan(&mut self, tag: u64, cqe: &Cqe) {
        if cqe.is_notification() {
            return;
        }
        // Every op in flight may be a send whose notification is due (a
        // batch of failed links posts every failure before any of their
        // notifications), and the scope has at most as many as its CQ has
        // entries: only an orphan older than all of them is forgotten, one
        // whose send the kernel refused before it allocated a notification.
        if self.orphans.len() >= MAX_ORPHANS.max(self.capacity() as usize) {
            self.orphans.remove(0);
        }
        self.orphans.push(tag);
    }

    /// A notification with a tag no live op carries: taken in if it is an
    /// orphan's.
    #[cold]
    fn adopt(&mut self, tag: u64) -> Owner {
        match self.orphans.iter().position(|&t| t == tag) {
            Some(i) => {
                self.orphans.swap_remove(i);
                Owner::Internal
            }
            None => Owner::Foreign,
        }
    }

    /// Forgets an SQE the kernel never saw (see `Ring::retract_scope`), as
    /// if it had posted its last completion, cancelled; an owned buffer no
    /// op uses any more is dropped.
    ///
    /// (mutants: only the scope's end unpushes, and hands out nothing
    /// after: the sign of the result, which only a rename reads, is
    /// equivalent. `!=` for `==` below goes uncaught: it forgets another
    /// orphan only when an unpushed zero-copy send meets orphans of earlier
    /// sends, after the kernel refused the scope's SQEs, which no test
    /// provokes.)
    pub(super) fn unpush(&mut self, user_data: u64) {
        let mut last = Cqe::from(sys::io_uring_cqe {
            user_data,
            res: -libc::ECANCELED,
            flags: 0,
        });
        let (done, internal) = (self.done, self.internal);
        self.settle(&mut last);
        // Its SQE leaves the queue, which takes it out of the count of ops
        // in flight: the settle above must not count it as done too. A
        // cancel request of the scope's was counted done at its push.
        self.done = done - u32::from(self.internal != internal);
        // The kernel never saw it: no notification comes.
        if let Some(i) = self.orphans.iter().position(|&t| t == user_data) {
            self.orphans.swap_remove(i);
        }
        self.returned = None;
    }

    /// Keeps `buf` for ops yet to be pushed over it; returns its entry and
    /// its bytes (the vector's heap memory, which does not move while the
    /// table keeps the vector).
    #[inline]
    pub(super) fn keep_owned(&mut self, mut buf: Vec<u8>) -> (u32, *mut u8, usize) {
        let bytes = (buf.as_mut_ptr(), buf.len());
        (self.take_entry(Some(buf)), bytes.0, bytes.1)
    }

    /// An owned entry holding `buf` (`None` for a claimed buffer's, whose
    /// claim sits in `claims`) and no op yet: the first free one, or a new
    /// one.
    #[inline(always)]
    fn take_entry(&mut self, buf: Option<Vec<u8>>) -> u32 {
        let index = self.owned_free;
        match self.owned.get_mut(index as usize) {
            Some(free) => {
                // A free entry's buffer was taken when it was freed: nothing
                // to drop in it (were there, it would leak, not be freed).
                debug_assert!(free.buf.is_none());
                self.owned_free = free.next_free;
                std::mem::forget(std::mem::replace(&mut free.buf, buf));
                free.remaining = 0;
                index
            }
            None => {
                self.owned.push(OwnedEntry {
                    buf,
                    remaining: 0,
                    next_free: NO_ENTRY,
                });
                self.owned.len() as u32 - 1
            }
        }
    }

    /// Keeps the claimed `buf` for ops yet to be pushed over it; returns
    /// its entry, the `owned` value its ops' slots carry (the entry marked
    /// [`RENAME`] and [`CLAIM`]), and its bytes (in the `BufRing`'s
    /// buffers, which do not move).
    pub(super) fn keep_claimed(&mut self, mut buf: Buf<'_>) -> (u32, u32, *mut u8, usize) {
        let bytes = (buf.as_mut_ptr(), buf.len());
        let claim = KeptClaim::new(buf);
        let index = self.take_entry(None);
        debug_assert!(index < CLAIM);
        self.claims.push((index, claim));
        (index, RENAME | CLAIM | index, bytes.0, bytes.1)
    }

    /// Takes back the claimed buffer of entry `index` if no op over it was
    /// pushed (as [`unkeep_owned`](Self::unkeep_owned)); `None` when one
    /// was.
    ///
    /// # Safety
    ///
    /// As for [`owned_entry`](Self::owned_entry), for an entry of
    /// [`keep_claimed`](Self::keep_claimed).
    pub(super) unsafe fn unkeep_claimed(&mut self, index: u32) -> Option<KeptClaim> {
        // SAFETY: forwarded from the caller.
        if unsafe { self.owned_entry(index) }.remaining > 0 {
            return None;
        }
        self.free_claim(index)
    }

    /// The group of a `Pipe` SQE that makes regular descriptors, pushed
    /// over the owned buffer `owned` (or [`NO_OWNED`]): [`NEW_PIPE`] when
    /// it writes them to the first eight bytes of an owned vector, which
    /// the scope keeps until the op's completion and then hands back with
    /// it; [`NO_GROUP`] for any other place.
    #[cold]
    pub(super) fn pipe_marker(&self, sqe: &sys::io_uring_sqe, owned: u32) -> u32 {
        if owned & RENAME != 0 {
            // No owned buffer (`NO_OWNED` has the bit), or a claimed one.
            // (mutants: `false` is equivalent: no entry has such an index.)
            return NO_GROUP;
        }
        let Some(buf) = self.owned.get(owned as usize).and_then(|e| e.buf.as_ref()) else {
            return NO_GROUP;
        };
        // SAFETY: every member of the `addr` union is a plain integer of
        // its full size or less.
        let addr = unsafe { sqe.addr.addr };
        if buf.len() >= 8 && addr == buf.as_ptr() as u64 {
            NEW_PIPE
        } else {
            NO_GROUP
        }
    }

    /// Frees owned entry `index`, which held a claimed buffer that no op
    /// uses any more; returns the buffer (always there: `keep_claimed`
    /// kept it with the entry, and only this takes it, as it frees the
    /// entry).
    fn free_claim(&mut self, index: u32) -> Option<KeptClaim> {
        let head = self.owned_free;
        self.owned[index as usize].next_free = head;
        self.owned_free = index;
        let at = self.claims.iter().rposition(|c| c.0 == index);
        debug_assert!(at.is_some(), "a claimed entry holds its claim");
        Some(self.claims.swap_remove(at?).1)
    }

    /// The last completion of an op whose slot's `owned` has [`RENAME`]
    /// set: a rename to make, or one op fewer over a claimed buffer, which
    /// goes back to its ring after the last.
    #[cold]
    #[inline(never)]
    fn finish_named(&mut self, owned: u32, res: i32) {
        if owned & CLAIM == 0 {
            self.finish_rename(owned & !RENAME, res);
            return;
        }
        let index = owned & !(RENAME | CLAIM);
        let entry = &mut self.owned[index as usize];
        entry.remaining -= 1;
        if entry.remaining == 0 {
            drop(self.free_claim(index));
        }
    }

    /// The owned entry `index`, without a bounds check.
    ///
    /// # Safety
    ///
    /// `index` must be one [`keep_owned`](Self::keep_owned) handed out in
    /// this scope (a push's `entry`, or the `extra` of a slot it tagged,
    /// which only the table writes): entries are only added while the
    /// scope runs, and cleared by `end` once every op has settled, so such
    /// an index is below `owned.len()`.
    #[inline(always)]
    pub(super) unsafe fn owned_entry(&mut self, index: u32) -> &mut OwnedEntry {
        debug_assert!((index as usize) < self.owned.len());
        // SAFETY: in bounds, as the caller vouches.
        unsafe { self.owned.get_unchecked_mut(index as usize) }
    }

    /// One op over the owned buffer `index` has posted its last
    /// completion: the buffer, once that was the last op over it.
    ///
    /// # Safety
    ///
    /// As for [`owned_entry`](Self::owned_entry).
    pub(super) unsafe fn finish_owned(&mut self, index: u32) -> Option<Vec<u8>> {
        // SAFETY: forwarded from the caller.
        unsafe {
            self.owned_entry(index).remaining -= 1;
            self.unkeep_owned(index)
        }
    }

    /// Takes back the owned buffer `index` once no op over it is left to
    /// complete (at once, for a buffer no op was pushed over).
    ///
    /// # Safety
    ///
    /// As for [`owned_entry`](Self::owned_entry).
    #[inline]
    pub(super) unsafe fn unkeep_owned(&mut self, index: u32) -> Option<Vec<u8>> {
        let head = self.owned_free;
        // SAFETY: forwarded from the caller.
        let entry = unsafe { self.owned_entry(index) };
        if entry.remaining > 0 {
            return None;
        }
        entry.next_free = head;
        let buf = entry.buf.take();
        self.owned_free = index;
        buf
    }

    /// At the scope's end, with every op settled: drops what a panic left.
    pub(super) fn end(&mut self) {
        self.orphans.clear();
        self.owned.clear();
        self.owned_free = NO_ENTRY;
        self.claims.clear();
        self.renames.clear();
        self.renames_free.clear();
        self.named_turns.clear();
    }

    /// The live slot of the scope whose op carries `user_data`, for an op
    /// that names it, and how many live ops carry it. When several do,
    /// each op that names the value gets the next of them in turn: two
    /// removals of a `user_data` two polls carry remove both, as they do in
    /// the kernel, where each finds a request still armed.
    pub(super) fn pick(&mut self, user_data: u64) -> (Option<u32>, u32) {
        let mut all = self.carriers(user_data);
        let Some(first) = all.next() else {
            return (None, 0);
        };
        let count = 1 + all.count() as u32;
        if count == 1 {
            return (Some(first), 1);
        }
        let turn = self.named_turns.entry(user_data).or_insert(0);
        let k = *turn % count;
        *turn = turn.wrapping_add(1);
        let index = self.carriers(user_data).nth(k as usize);
        (index, count)
    }

    /// The live slots whose op was pushed with `user_data`, in slot order.
    pub(super) fn carriers(&self, user_data: u64) -> impl Iterator<Item = u32> + '_ {
        (0..self.slots.len() as u32)
            .filter(move |&i| self.is_live(i) && self.slots[i as usize].user_data == user_data)
    }

    /// Whether an op of the scope that the table does not track may carry
    /// `user_data`: in a fast scope, an untagged op still in flight (with
    /// the SQ's tail at `tail`).
    pub(super) fn may_carry_untagged(&self, user_data: u64, tail: u32) -> bool {
        self.untagged(user_data) && self.live(tail) > self.tagged()
    }

    /// Rewrites an SQE that names another op by `user_data` (cancel, poll
    /// and timeout removal and update) so that it names the scope's op that
    /// carries it, by its tag; a `user_data` no op of the scope carries is
    /// left as it is (an op pushed before the scope). Returns the `owned`
    /// value of the SQE's slot: `owned`, or a rename.
    ///
    /// A poll update that sets a new `user_data` changes the table, not the
    /// kernel's request: the poll keeps its tag. One that would give a poll
    /// the scope did not push a new `user_data` is turned into an invalid
    /// SQE, which completes with `-EINVAL`: the new value could be one of
    /// the scope's tags, and that poll's completions would then settle
    /// another op.
    #[cold]
    pub(super) fn translate(&mut self, sqe: &mut sys::io_uring_sqe, owned: u32) -> u32 {
        // SAFETY: every member of the `addr` union is a plain u64 (or two
        // u32), as is `off`'s.
        let named = unsafe { sqe.addr.addr };
        let (target, carriers) = self.pick(named);
        let retarget = |sqe: &mut sys::io_uring_sqe, table: &ScopeTable| {
            if let Some(index) = target {
                sqe.addr = sys::io_uring_sqe_addr {
                    addr: table.tag(index),
                };
            }
        };
        match sqe.opcode {
            sys::IORING_OP_ASYNC_CANCEL => {
                // SAFETY: the op flags union is plain integers.
                let flags = unsafe { sqe.op_flags.cancel_flags };
                // (mutants: `^` for any `|` is equivalent, the bits being
                // distinct; so is `&`, which retargets the cancels by
                // descriptor, opcode or any too: the kernel reads no
                // `user_data` of those.)
                let by_other_key = sys::IORING_ASYNC_CANCEL_FD
                    | sys::IORING_ASYNC_CANCEL_FD_FIXED
                    | sys::IORING_ASYNC_CANCEL_OP
                    | sys::IORING_ASYNC_CANCEL_ANY;
                // A cancel by descriptor or opcode that also matches a
                // `user_data` (`IORING_ASYNC_CANCEL_USERDATA`) reads it as
                // a plain cancel does, unless it matches any op.
                let also_by_user_data = flags & sys::IORING_ASYNC_CANCEL_USERDATA != 0
                    && flags & sys::IORING_ASYNC_CANCEL_ANY == 0;
                if flags & by_other_key == 0 || also_by_user_data {
                    if carriers > 1 && flags & sys::IORING_ASYNC_CANCEL_ALL != 0 {
                        // Every op that carries the value is one tag each,
                        // and one request matches one tag: the request
                        // fails (`Scope::cancel` cancels them all).
                        crate::scope::refuse(sqe, libc::EINVAL);
                        return owned;
                    }
                    retarget(sqe, self);
                }
                owned
            }
            sys::IORING_OP_TIMEOUT_REMOVE => {
                // SAFETY: as above.
                let flags = unsafe { sqe.op_flags.timeout_flags };
                if flags & sys::IORING_TIMEOUT_MULTISHOT != 0
                    && self.may_name_untagged(target, named)
                {
                    crate::scope::refuse(sqe, libc::EINVAL);
                    return owned;
                }
                retarget(sqe, self);
                owned
            }
            sys::IORING_OP_POLL_REMOVE => {
                let multishot = sys::IORING_POLL_UPDATE_EVENTS | sys::IORING_POLL_ADD_MULTI;
                if sqe.len & multishot == multishot && self.may_name_untagged(target, named) {
                    crate::scope::refuse(sqe, libc::EINVAL);
                    return owned;
                }
                retarget(sqe, self);
                if sqe.len & sys::IORING_POLL_UPDATE_USER_DATA == 0 {
                    return owned;
                }
                match target {
                    Some(index) if owned == NO_OWNED => {
                        // SAFETY: as above.
                        let user_data = unsafe { sqe.off.off };
                        let tag = self.tag(index);
                        sqe.off = sys::io_uring_sqe_off { off: tag };
                        let rename = Rename {
                            slot: index,
                            tag,
                            user_data,
                        };
                        // (mutants: `^` for `|` is equivalent: an index
                        // of the renames never reaches the `RENAME` bit.)
                        RENAME | self.keep_rename(rename)
                    }
                    // In a fast scope, a poll the table does not know, named
                    // by a value that cannot pass for a tag, is an untagged
                    // op of the scope: the kernel may rename it, to a value
                    // that cannot pass for one either. A tag-shaped name is a
                    // tagged op's raw tag (read from the kernel): renamed, its
                    // last completion would settle as an untagged op's while
                    // its slot stayed held.
                    // SAFETY: as above.
                    None if self.untagged(named) && self.untagged(unsafe { sqe.off.off }) => owned,
                    _ => {
                        // Refused: the update completes with `EINVAL`,
                        // updating nothing.
                        super::push::refuse(sqe, libc::EINVAL);
                        owned
                    }
                }
            }
            _ => owned,
        }
    }

    /// Whether an update naming `named`, which the table found as `target`,
    /// may reach one of a fast scope's untagged ops: made multishot, that
    /// op would post more than the one completion the scope counts it
    /// done at, so such an update is refused.
    ///
    /// (mutants: `false` goes uncaught on Linux 6.18, which keeps a poll's
    /// one-shot bit through an update; the refusal guards kernels that
    /// would not, for polls and timeouts alike.)
    fn may_name_untagged(&self, target: Option<u32>, named: u64) -> bool {
        target.is_none() && self.untagged(named)
    }

    pub(super) fn keep_rename(&mut self, rename: Rename) -> u32 {
        match self.renames_free.pop() {
            Some(index) => {
                self.renames[index as usize] = rename;
                index
            }
            None => {
                self.renames.push(rename);
                self.renames.len() as u32 - 1
            }
        }
    }

    /// The update that carried rename `index` has completed with `res`:
    /// on success, its poll's slot takes the new `user_data`, if that poll
    /// is still the slot's op.
    ///
    /// (mutants: `>` for `<` goes uncaught: it differs only for an update
    /// that fails while its poll is still the slot's op, which the typed
    /// `PollUpdate` cannot make the kernel do.)
    pub(super) fn finish_rename(&mut self, index: u32, res: i32) {
        let rename = self.renames[index as usize];
        self.renames_free.push(index);
        if res < 0 {
            return;
        }
        if let Some(slot) = self.slots.get_mut(rename.slot as usize)
            && slot.tag == rename.tag
        {
            slot.user_data = rename.user_data;
        }
    }
}

/// The table as a scope's batch of pushes, its completions and an
/// [`OwnedPush`](super::OwnedPush) hold it: a pointer from a `&'a mut
/// ScopeTable` that each of their methods borrows for its own length only,
/// so that the two halves of a [split](super::Scope::split) scope can share
/// it.
pub(super) struct TableRef<'a> {
    ptr: NonNull<ScopeTable>,
    _borrow: PhantomData<&'a mut ScopeTable>,
}

impl<'a> TableRef<'a> {
    /// The only holder of `table` for `'a`.
    #[inline(always)]
    pub(super) fn new(table: &'a mut ScopeTable) -> TableRef<'a> {
        TableRef {
            ptr: NonNull::from(table),
            _borrow: PhantomData,
        }
    }

    /// Two holders of `table` for `'a`: the halves of a split scope.
    pub(super) fn pair(table: &'a mut ScopeTable) -> (TableRef<'a>, TableRef<'a>) {
        let ptr = NonNull::from(table);
        let half = || TableRef {
            ptr,
            _borrow: PhantomData,
        };
        (half(), half())
    }

    /// The table, for the length of one method of its holder.
    ///
    /// A holder is neither `Send` nor `Sync` (its pointer is not), so all
    /// holders of one table live on one thread; none of their methods hands
    /// a borrow from here to code outside the library, nor calls a method of
    /// another holder while it has one. So no two borrows of the table
    /// overlap.
    #[inline(always)]
    pub(super) fn get(&mut self) -> &mut ScopeTable {
        // SAFETY: the pointer is from a `&'a mut ScopeTable` that this
        // holder (and at most one other, from `pair`) stands for, alive for
        // 'a; borrows from here never overlap (above).
        unsafe { self.ptr.as_mut() }
    }

    /// Another holder of the same table, for a shorter borrow: it is used
    /// only while this one is not.
    #[inline(always)]
    pub(super) fn reborrow(&mut self) -> TableRef<'_> {
        TableRef {
            ptr: self.ptr,
            _borrow: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cqe(user_data: u64, flags: u32) -> Cqe {
        Cqe::from(sys::io_uring_cqe {
            user_data,
            res: 0,
            flags,
        })
    }

    /// A scope's end waits a little for orphans' notifications only once
    /// every op and cancel request has settled: never while an op is live.
    #[test]
    fn orphans_alone_are_awaited_only_once_every_op_has_settled() {
        let mut t = ScopeTable::default();
        // The SQ's tail at the scope's start, and after one push.
        let (start, pushed) = (u32::MAX, 0);
        t.begin(1, 4, start, false);
        assert!(t.settled(start) && !t.only_orphans(start), "a fresh table");
        let tag = t.take(7, NO_EXTRA);
        t.orphans.push(LIVE | 0x1234);
        assert!(
            !t.settled(pushed) && !t.only_orphans(pushed),
            "an op is live"
        );
        let mut last = cqe(tag, 0);
        assert_eq!(t.settle(&mut last).0, Owner::Op);
        assert_eq!(last.user_data(), 7, "the caller's user_data back");
        assert!(
            !t.settled(pushed) && t.only_orphans(pushed),
            "only the orphan is left"
        );
        t.internal = 1;
        assert!(
            !t.settled(pushed) && !t.only_orphans(pushed),
            "a cancel request is out"
        );
        t.internal = 0;
        t.orphans.clear();
        assert!(t.settled(pushed) && !t.only_orphans(pushed));
    }

    /// What may go untagged is decided by the top bit, and only in a fast
    /// scope; every tag has the top bit, however its count wraps, and a
    /// tag of an earlier op on the same slot settles nothing.
    #[test]
    fn the_top_bit_tells_tags_from_untagged_user_data() {
        let mut t = ScopeTable::default();
        t.begin(1, 2, 0, true);
        for untagged in [0, 1 << 32 | 5, u64::MAX >> 1] {
            assert!(t.untagged(untagged), "{untagged:#x}");
        }
        for tag_like in [1 << 63, u64::MAX] {
            assert!(!t.untagged(tag_like), "{tag_like:#x}");
        }
        t.begin(1, 2, 0, false);
        assert!(
            !t.untagged(0) && !t.untagged(5),
            "a scope that tags every op"
        );
        t.count = u32::MAX;
        let first = t.take(1, NO_EXTRA);
        assert!(ScopeTable::is_tag_like(first) && t.key & LIVE == 0);
        let mut done = cqe(first, 0);
        assert_eq!(t.settle(&mut done).0, Owner::Op);
        let second = t.take(2, NO_EXTRA);
        assert!(ScopeTable::is_tag_like(second) && second != first);
        assert_eq!(second as u32, first as u32, "the same slot");
        let mut stale = cqe(first, 0);
        assert_eq!(t.settle(&mut stale).0, Owner::Foreign, "a stale tag");
        assert_eq!(t.live(2), 1, "the slot's op is still live");
    }

    /// The ops in flight are the SQEs pushed since the scope began, less
    /// those done; the limit keeps them within the slots, refusing a push
    /// for the reason the scope has, and moves on as ops complete. The
    /// scope's own cancel requests count as done from their push, and an
    /// SQE taken back from the queue counts neither way.
    #[test]
    fn the_limit_keeps_the_ops_in_flight_within_the_slots() {
        let mut t = ScopeTable::default();
        let start = u32::MAX - 1;
        t.begin(1, 2, start, true);
        assert_eq!(t.limit(), start.wrapping_add(2));
        assert_eq!(t.admit(start, 2), Ok(Some(start.wrapping_add(2))));
        assert_eq!(t.admit(start, 3), Err(PushErrorKind::ScopeFull));
        // Two untagged ops pushed: the scope is full.
        let tail = start.wrapping_add(2);
        assert_eq!(t.live(tail), 2);
        assert_eq!(t.admit(tail, 1), Err(PushErrorKind::ScopeFull));
        assert_eq!(t.admit(tail, 0), Ok(Some(tail)), "nothing to push");
        // One of them posts a completion flagged `F_MORE`, then its last.
        t.settle_untagged_op(sys::IORING_CQE_F_MORE);
        assert_eq!(t.live(tail), 2);
        t.settle_untagged_op(0);
        assert_eq!(t.live(tail), 1);
        assert_eq!(t.admit(tail, 1), Ok(Some(tail.wrapping_add(1))));
        // A cancel request of the scope's own: pushed, not in flight as an
        // op, but awaited.
        let tail = tail.wrapping_add(1);
        t.pushed_internal();
        assert_eq!(t.live(tail), 1);
        assert!(!t.settled(tail));
        // Taken back from the queue, with the untagged op still queued.
        t.unpush(t.key ^ INTERNAL);
        t.unpush(5);
        let tail = tail.wrapping_sub(2);
        assert_eq!((t.live(tail), t.internal), (0, 0));
        assert!(t.settled(tail));
        assert_eq!(t.limit(), tail.wrapping_add(2));
        // A scope of a disabled or targeted ring takes nothing.
        t.begin(1, 0, 0, true);
        assert_eq!(t.admit(0, 1), Err(PushErrorKind::Disabled));
        t.free_head = TARGETED;
        assert_eq!(t.admit(0, 1), Err(PushErrorKind::Targeted));
        t.free_head = OTHER_THREAD;
        assert_eq!(t.admit(0, 1), Err(PushErrorKind::OtherThread));
        assert_eq!(t.admit(0, 0), Ok(Some(0)));
    }
}
