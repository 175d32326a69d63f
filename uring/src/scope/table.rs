//! A scope's bookkeeping: the slots its ops hold, the tags their SQEs
//! carry, and the keys those tags are drawn with.

use crate::cqueue::Cqe;
use crate::sys;
use std::time::Duration;

/// `user_data ^ key` of the scope's own cancel requests. Its low half is
/// no slot index: a CQ never has 2^32 - 1 entries.
pub(super) const INTERNAL: u64 = u64::MAX;

/// The longest wait between two rounds of cancelling what is left when a
/// scope ends.
pub(super) const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// How long a scope's end waits for the notifications of its orphans (see
/// [`ScopeTable::orphans`]) once every op has posted its last completion.
pub(super) const ORPHAN_PATIENCE: Duration = Duration::from_millis(100);

/// The most orphans a scope remembers.
pub(super) const MAX_ORPHANS: usize = 64;

#[derive(Clone, Copy, Default)]
pub(super) struct Slot {
    /// The caller's `user_data`.
    pub(super) user_data: u64,
    /// Odd while an op holds the slot, even while it is free; bumped at
    /// each change, so that a stale tag (a cancel aimed at an op that has
    /// completed meanwhile) never matches the slot's next op.
    pub(super) generation: u32,
    /// The next free slot, while this one is free.
    pub(super) next_free: u32,
    /// The provided-buffer group the op selects from, or [`NO_GROUP`].
    pub(super) group: u32,
    /// The owned buffer the op uses (an index into `ScopeTable::owned`),
    /// or, with [`RENAME`] set, the rename its success makes (an index into
    /// `ScopeTable::renames`), or [`NO_OWNED`].
    pub(super) owned: u32,
}

/// `next_free` of a live slot whose op is a zero-copy send linked after
/// another SQE (see [`ScopeTable::orphans`]); a live slot's `next_free`
/// is otherwise unused (and never this: no table has `u32::MAX - 1`
/// slots).
pub(super) const ZERO_COPY_SEND: u32 = u32::MAX - 1;

/// A slot's op uses no owned buffer.
pub(super) const NO_OWNED: u32 = u32::MAX;

/// Marks a slot's `owned` as the index of a [`Rename`].
pub(super) const RENAME: u32 = 1 << 31;

/// A poll update of the scope that gives one of the scope's polls a new
/// `user_data`: the kernel keeps the poll's tag, and the scope gives the
/// poll's slot the new `user_data` once the update has succeeded.
#[derive(Clone, Copy)]
pub(super) struct Rename {
    pub(super) slot: u32,
    pub(super) generation: u32,
    pub(super) user_data: u64,
}

/// A buffer given to the scope with [`Scope::push_owned`], kept until the
/// ops over it have completed.
pub(super) struct OwnedEntry {
    pub(super) buf: Option<Vec<u8>>,
    /// The SQEs over it that have not posted their last completion.
    pub(super) remaining: u32,
}

/// What a completion of the scope's ops carries besides the CQE.
pub(super) struct Settled {
    pub(super) group: u32,
    pub(super) buf: Option<Vec<u8>>,
}

impl Default for Settled {
    fn default() -> Self {
        Settled {
            group: NO_GROUP,
            buf: None,
        }
    }
}

/// A slot's op selects no provided buffer.
pub(super) const NO_GROUP: u32 = u32::MAX;

impl Slot {
    pub(super) fn live(&self) -> bool {
        self.generation & 1 == 1
    }
}

/// The end of the free list.
pub(super) const NO_SLOT: u32 = u32::MAX;

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
    pub(super) slots: Vec<Slot>,
    /// The first free slot; each free slot names the next.
    pub(super) free_head: u32,
    pub(super) free_count: u32,
    /// The scope's cancel requests whose completion has not been read.
    pub(super) internal: u32,
    /// The SQ tail when the scope began: the SQEs from it on are the scope's.
    pub(super) start_tail: u32,
    /// Room for the foreign completions of a full CQ.
    pub(super) scratch: Vec<Cqe>,
    /// Buffers the scope owns, and the free entries among them.
    pub(super) owned: Vec<OwnedEntry>,
    pub(super) owned_free: Vec<u32>,
    /// Renames waiting for their update's completion, and the free entries.
    pub(super) renames: Vec<Rename>,
    pub(super) renames_free: Vec<u32>,
    /// Tags of zero-copy sends linked after another SQE that failed with
    /// no `IORING_CQE_F_MORE`, which says no notification follows: Linux
    /// 6.18 posts one all the same when the link fails them (cancelled, or
    /// refused after the notification was allocated). The scope takes it
    /// in when it comes, and waits a little for those due at its end, so
    /// that none comes out with a stale tag. (At most [`MAX_ORPHANS`], the
    /// oldest forgotten first: a send the kernel refused before allocating
    /// its notification never gets one.)
    pub(super) orphans: Vec<u64>,
    /// The ring's incrementally consumed buffer groups, each with the
    /// number of the scope's ops selecting from it that have not posted
    /// their last completion (at most one: see [`ScopeTable::enter_group`]).
    pub(super) incremental: Vec<(u16, u32)>,
}

impl Default for ScopeTable {
    fn default() -> Self {
        ScopeTable {
            ring: 0,
            key: 0,
            slots: Vec::new(),
            free_head: NO_SLOT,
            free_count: 0,
            internal: 0,
            start_tail: 0,
            scratch: Vec::new(),
            owned: Vec::new(),
            owned_free: Vec::new(),
            renames: Vec::new(),
            renames_free: Vec::new(),
            orphans: Vec::new(),
            incremental: Vec::new(),
        }
    }
}

impl ScopeTable {
    /// Readies the table for a scope over a CQ of `capacity` entries.
    pub(super) fn begin(&mut self, ring: u32, capacity: u32, start_tail: u32) {
        self.ring = ring;
        self.key = fresh_key();
        if self.slots.len() != capacity as usize {
            self.slots = (0..capacity)
                .map(|i| Slot {
                    user_data: 0,
                    generation: 0,
                    next_free: if i + 1 < capacity { i + 1 } else { NO_SLOT },
                    group: NO_GROUP,
                    owned: NO_OWNED,
                })
                .collect();
            self.free_head = if capacity > 0 { 0 } else { NO_SLOT };
            self.free_count = capacity;
            self.scratch = Vec::with_capacity(capacity as usize);
        }
        self.start_tail = start_tail;
    }

    /// Notes whether `group` is consumed incrementally
    /// (`IOU_PBUF_RING_INC`), as a buffer ring is registered under it.
    pub(crate) fn set_incremental(&mut self, group: u16, incremental: bool) {
        let known = self.incremental.iter().position(|&(g, _)| g == group);
        match (known, incremental) {
            (None, true) => self.incremental.push((group, 0)),
            (Some(i), false) if self.incremental[i].1 == 0 => {
                self.incremental.swap_remove(i);
            }
            _ => {}
        }
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
            .find(|(g, _)| u32::from(*g) == group)
        {
            None => true,
            Some((_, busy)) if *busy == 0 => {
                *busy = 1;
                true
            }
            Some(_) => false,
        }
    }

    /// The op of an incremental `group` has posted its last completion.
    #[cold]
    pub(super) fn leave_group(&mut self, group: u32) {
        if let Some(entry) = self
            .incremental
            .iter_mut()
            .find(|(g, _)| u32::from(*g) == group)
        {
            entry.1 = entry.1.saturating_sub(1);
        }
    }

    /// Slots held by ops that have not posted their last completion.
    pub(super) fn live(&self) -> u32 {
        self.slots.len() as u32 - self.free_count
    }

    pub(super) fn settled(&self) -> bool {
        self.free_count as usize == self.slots.len()
            && self.internal == 0
            && self.orphans.is_empty()
    }

    /// Whether every op has settled and only orphans' notifications are
    /// awaited.
    pub(super) fn only_orphans(&self) -> bool {
        self.free_count as usize == self.slots.len()
            && self.internal == 0
            && !self.orphans.is_empty()
    }

    /// Takes a free slot for an op whose `user_data` is `user_data`, which
    /// selects from `group` (or [`NO_GROUP`]), uses the owned buffer
    /// `owned` (or [`NO_OWNED`]) and is a zero-copy send or not; returns
    /// the tag its SQE carries instead. The caller has checked that a slot
    /// is free.
    #[inline(always)]
    pub(super) fn take(&mut self, user_data: u64, group: u32, owned: u32, zero_copy: bool) -> u64 {
        let index = self.free_head;
        debug_assert!((index as usize) < self.slots.len());
        // SAFETY: with a free slot (checked by the caller), the head of the
        // free list is the index of one, below `slots.len()`.
        let slot = unsafe { self.slots.get_unchecked_mut(index as usize) };
        self.free_head = slot.next_free;
        self.free_count -= 1;
        slot.generation = slot.generation.wrapping_add(1);
        slot.user_data = user_data;
        slot.group = group;
        slot.owned = owned;
        if zero_copy {
            slot.next_free = ZERO_COPY_SEND;
        }
        self.key ^ (u64::from(slot.generation) << 32 | u64::from(index))
    }

    /// The tag of the live slot `index`.
    pub(super) fn tag(&self, index: u32) -> u64 {
        let generation = u64::from(self.slots[index as usize].generation);
        self.key ^ (generation << 32 | u64::from(index))
    }

    /// Whether `user_data` is the tag of the scope's cancel requests, with
    /// one outstanding.
    pub(super) fn is_internal(&self, user_data: u64) -> bool {
        user_data ^ self.key == INTERNAL && self.internal > 0
    }

    /// Says whose `cqe` is; for the scope's ops, restores the caller's
    /// `user_data`, notes the buffer group in `out`, and at the op's last
    /// completion frees the slot and, once no op uses it any more, hands
    /// its owned buffer to `out`.
    #[inline(always)]
    pub(super) fn settle(&mut self, cqe: &mut Cqe, out: &mut Settled) -> Owner {
        let x = cqe.user_data() ^ self.key;
        let index = x as u32;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            // Live slots have odd generations, and only those are in tags.
            if u64::from(slot.generation) != x >> 32 || !slot.live() {
                if !self.orphans.is_empty() && cqe.is_notification() {
                    return self.adopt(cqe.user_data());
                }
                return Owner::Foreign;
            }
            cqe.set_user_data(slot.user_data);
            out.group = slot.group;
            if !cqe.has_more() {
                let zero_copy = slot.next_free == ZERO_COPY_SEND;
                slot.generation = slot.generation.wrapping_add(1);
                slot.next_free = self.free_head;
                self.free_head = index;
                self.free_count += 1;
                let (owned, group) = (slot.owned, slot.group);
                if zero_copy {
                    self.orphan(index, cqe);
                }
                if group != NO_GROUP && !self.incremental.is_empty() {
                    self.leave_group(group);
                }
                if owned != NO_OWNED {
                    if owned & RENAME == 0 {
                        out.buf = self.finish_owned(owned);
                    } else {
                        self.finish_rename(owned & !RENAME, cqe.res());
                    }
                }
            }
            Owner::Op
        } else if self.is_internal(cqe.user_data()) {
            self.internal -= 1;
            Owner::Internal
        } else {
            Owner::Foreign
        }
    }

    /// The zero-copy send of slot `index` (freed just now) posted its last
    /// completion `cqe`: notes it if a notification may come after it.
    #[cold]
    #[inline(never)]
    fn orphan(&mut self, index: u32, cqe: &Cqe) {
        if cqe.is_notification() {
            return;
        }
        // The tag the op carried: its slot's generation before the freeing.
        let generation = self.slots[index as usize].generation.wrapping_sub(1);
        let tag = self.key ^ (u64::from(generation) << 32 | u64::from(index));
        if self.orphans.len() >= MAX_ORPHANS {
            self.orphans.remove(0);
        }
        self.orphans.push(tag);
    }

    /// A notification of an orphan: taken in, if it is one.
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
    pub(super) fn unpush(&mut self, user_data: u64) {
        // The kernel never saw it: no notification comes.
        if let Some(slot) = self.slots.get_mut((user_data ^ self.key) as u32 as usize)
            && slot.next_free == ZERO_COPY_SEND
        {
            slot.next_free = NO_SLOT;
        }
        let mut last = Cqe::from(sys::io_uring_cqe {
            user_data,
            res: -libc::ECANCELED,
            flags: 0,
        });
        self.settle(&mut last, &mut Settled::default());
    }

    /// Keeps `buf` for ops yet to be pushed over it; returns its entry.
    pub(super) fn keep_owned(&mut self, buf: Vec<u8>) -> u32 {
        let entry = OwnedEntry {
            buf: Some(buf),
            remaining: 0,
        };
        match self.owned_free.pop() {
            Some(index) => {
                self.owned[index as usize] = entry;
                index
            }
            None => {
                self.owned.push(entry);
                self.owned.len() as u32 - 1
            }
        }
    }

    /// One op over the owned buffer `index` has posted its last
    /// completion: the buffer, once that was the last op over it.
    pub(super) fn finish_owned(&mut self, index: u32) -> Option<Vec<u8>> {
        let entry = &mut self.owned[index as usize];
        entry.remaining -= 1;
        if entry.remaining > 0 {
            return None;
        }
        self.owned_free.push(index);
        entry.buf.take()
    }

    /// Takes back the owned buffer `index` that no op was pushed over.
    pub(super) fn unkeep_owned(&mut self, index: u32) -> Option<Vec<u8>> {
        let entry = &mut self.owned[index as usize];
        if entry.remaining > 0 {
            return None;
        }
        self.owned_free.push(index);
        entry.buf.take()
    }

    /// At the scope's end, with every op settled: drops what a panic left.
    pub(super) fn end(&mut self) {
        self.orphans.clear();
        self.owned.clear();
        self.owned_free.clear();
        self.renames.clear();
        self.renames_free.clear();
    }

    /// The live slot of the scope whose op carries `user_data` (the first,
    /// if several do).
    pub(super) fn find(&self, user_data: u64) -> Option<u32> {
        self.slots
            .iter()
            .position(|s| s.live() && s.user_data == user_data)
            .map(|i| i as u32)
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
        let target = self.find(named);
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
                let by_other_key = sys::IORING_ASYNC_CANCEL_FD
                    | sys::IORING_ASYNC_CANCEL_FD_FIXED
                    | sys::IORING_ASYNC_CANCEL_OP
                    | sys::IORING_ASYNC_CANCEL_ANY;
                if flags & by_other_key == 0 {
                    retarget(sqe, self);
                }
                owned
            }
            sys::IORING_OP_TIMEOUT_REMOVE => {
                retarget(sqe, self);
                owned
            }
            sys::IORING_OP_POLL_REMOVE => {
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
                            generation: self.slots[index as usize].generation,
                            user_data,
                        };
                        RENAME | self.keep_rename(rename)
                    }
                    _ => {
                        // An opcode the kernel does not know: it fails the
                        // SQE with EINVAL, reading nothing else of it.
                        sqe.opcode = u8::MAX;
                        owned
                    }
                }
            }
            _ => owned,
        }
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
    pub(super) fn finish_rename(&mut self, index: u32, res: i32) {
        let rename = self.renames[index as usize];
        self.renames_free.push(index);
        if res < 0 {
            return;
        }
        if let Some(slot) = self.slots.get_mut(rename.slot as usize)
            && slot.live()
            && slot.generation == rename.generation
        {
            slot.user_data = rename.user_data;
        }
    }
}

/// How many keys one `getrandom(2)` draws for a thread's scopes.
pub(super) const KEYS_PER_DRAW: usize = 32;

/// A key for a new scope: eight bytes from the kernel's random source,
/// drawn for this scope alone (a thread draws them in batches, and none is
/// derived from another, so keys seen in the past say nothing of the next).
pub(super) fn fresh_key() -> u64 {
    thread_local! {
        static KEYS: std::cell::RefCell<(usize, [u64; KEYS_PER_DRAW])> =
            const { std::cell::RefCell::new((KEYS_PER_DRAW, [0; KEYS_PER_DRAW])) };
    }
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        let (used, batch) = &mut *keys;
        if *used == KEYS_PER_DRAW {
            let mut bytes = [0u8; KEYS_PER_DRAW * 8];
            if sys::getrandom(&mut bytes).is_err() {
                // No random source (a kernel before 3.17): mix what varies.
                // The key is a second line of defence only (see the module
                // doc), so this weakens nothing the borrow rules hold.
                return fallback_key();
            }
            for (key, chunk) in batch.iter_mut().zip(bytes.chunks_exact(8)) {
                *key = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
            }
            *used = 0;
        }
        let key = batch[*used];
        *used += 1;
        key
    })
}

/// A key when the kernel has no random source: the time, the process id and
/// an address, mixed.
pub(super) fn fallback_key() -> u64 {
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = time ^ (u64::from(std::process::id()) << 32) ^ (&time as *const u64 as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
