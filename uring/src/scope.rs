//! Scopes: ops that borrow buffers for the length of a closure, safely.
//!
//! A scope tags every SQE it pushes: the SQE's `user_data` becomes
//! `key ^ (generation << 32 | slot)`, where `key` is drawn from the kernel's
//! random source for each scope and the slot keeps the caller's
//! `user_data`. A completion that carries a live tag settles its slot (when
//! it is the op's last) and is handed out with the caller's `user_data`
//! restored; any other completion belongs to someone else (an op pushed
//! before the scope) and passes through untouched. The scope does not
//! return, nor unwind, before every slot has settled: that is what lets its
//! ops borrow.
//!
//! That argument needs every completion that carries a tag to be the
//! kernel's completion of the op the tag names. Tags are no secret (the
//! kernel shows pending SQEs and CQEs in `/proc/self/fdinfo`), so it rests
//! on what can post a completion into the ring while the scope lasts:
//! - the kernel, for the ops of the ring: those pushed before the scope
//!   carry `user_data` chosen before the scope drew its key, which they
//!   match with probability 2^-64 (the key is fresh from the OS, not derived
//!   from anything earlier);
//! - `MSG_RING`, from any ring, into a ring it names by descriptor: a safe
//!   op can name a ring only through a `&Ring` (the ring lends out no
//!   descriptor), which cannot exist while the scope holds the ring
//!   exclusively; an op that took one before the scope borrows it until
//!   that op completes (in a scope of its own ring) or forever
//!   (`Ring::push` needs `'static`).
//!
//! So no safe code can forge a completion that releases a borrow.

use crate::cqueue::{Completions, Cqe};
use crate::error::{Error, PushError, PushErrorKind, Result};
use crate::op::{Scoped, Submission};
use crate::ops::Cancel;
use crate::ring::Ring;
use crate::squeue::SubmissionQueue;
use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// `user_data ^ key` of the scope's own cancel requests. Its low half is
/// no slot index: a CQ never has 2^32 - 1 entries.
const INTERNAL: u64 = u64::MAX;

/// The longest wait between two rounds of cancelling what is left when a
/// scope ends.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Default)]
struct Slot {
    /// The caller's `user_data`.
    user_data: u64,
    /// Odd while an op holds the slot, even while it is free; bumped at
    /// each change, so that a stale tag (a cancel aimed at an op that has
    /// completed meanwhile) never matches the slot's next op.
    generation: u32,
    /// The next free slot, while this one is free.
    next_free: u32,
    /// The provided-buffer group the op selects from, or [`NO_GROUP`].
    group: u32,
    /// The owned buffer the op uses (an index into `ScopeTable::owned`),
    /// or, with [`RENAME`] set, the rename its success makes (an index into
    /// `ScopeTable::renames`), or [`NO_OWNED`].
    owned: u32,
}

/// A slot's op uses no owned buffer.
const NO_OWNED: u32 = u32::MAX;

/// Marks a slot's `owned` as the index of a [`Rename`].
const RENAME: u32 = 1 << 31;

/// A poll update of the scope that gives one of the scope's polls a new
/// `user_data`: the kernel keeps the poll's tag, and the scope gives the
/// poll's slot the new `user_data` once the update has succeeded.
#[derive(Clone, Copy)]
struct Rename {
    slot: u32,
    generation: u32,
    user_data: u64,
}

/// A buffer given to the scope with [`Scope::push_owned`], kept until the
/// ops over it have completed.
struct OwnedEntry {
    buf: Option<Vec<u8>>,
    /// The SQEs over it that have not posted their last completion.
    remaining: u32,
}

/// What a completion of the scope's ops carries besides the CQE.
struct Settled {
    group: u32,
    buf: Option<Vec<u8>>,
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
const NO_GROUP: u32 = u32::MAX;

impl Slot {
    fn live(&self) -> bool {
        self.generation & 1 == 1
    }
}

/// The end of the free list.
const NO_SLOT: u32 = u32::MAX;

/// Whose a completion is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Owner {
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
    ring: u32,
    /// This scope's key, fresh from the OS for each scope.
    key: u64,
    slots: Vec<Slot>,
    /// The first free slot; each free slot names the next.
    free_head: u32,
    free_count: u32,
    /// The scope's cancel requests whose completion has not been read.
    internal: u32,
    /// The SQ tail when the scope began: the SQEs from it on are the scope's.
    start_tail: u32,
    /// Room for the foreign completions of a full CQ.
    scratch: Vec<Cqe>,
    /// Buffers the scope owns, and the free entries among them.
    owned: Vec<OwnedEntry>,
    owned_free: Vec<u32>,
    /// Renames waiting for their update's completion, and the free entries.
    renames: Vec<Rename>,
    renames_free: Vec<u32>,
    /// The ring's incrementally consumed buffer groups, each with the
    /// number of the scope's ops selecting from it that have not posted
    /// their last completion (at most one: see [`ScopeTable::enter_group`]).
    incremental: Vec<(u16, u32)>,
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
            incremental: Vec::new(),
        }
    }
}

impl ScopeTable {
    /// Readies the table for a scope over a CQ of `capacity` entries.
    fn begin(&mut self, ring: u32, capacity: u32, start_tail: u32) {
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
    fn enter_group(&mut self, group: u32) -> bool {
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
    fn leave_group(&mut self, group: u32) {
        if let Some(entry) = self
            .incremental
            .iter_mut()
            .find(|(g, _)| u32::from(*g) == group)
        {
            entry.1 = entry.1.saturating_sub(1);
        }
    }

    /// Slots held by ops that have not posted their last completion.
    fn live(&self) -> u32 {
        self.slots.len() as u32 - self.free_count
    }

    fn settled(&self) -> bool {
        self.free_count as usize == self.slots.len() && self.internal == 0
    }

    /// Takes a free slot for an op whose `user_data` is `user_data`, which
    /// selects from `group` (or [`NO_GROUP`]) and uses the owned buffer
    /// `owned` (or [`NO_OWNED`]); returns the tag its SQE carries instead.
    /// The caller has checked that a slot is free.
    #[inline(always)]
    fn take(&mut self, user_data: u64, group: u32, owned: u32) -> u64 {
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
        self.key ^ (u64::from(slot.generation) << 32 | u64::from(index))
    }

    /// The tag of the live slot `index`.
    fn tag(&self, index: u32) -> u64 {
        let generation = u64::from(self.slots[index as usize].generation);
        self.key ^ (generation << 32 | u64::from(index))
    }

    /// Whether `user_data` is the tag of the scope's cancel requests, with
    /// one outstanding.
    fn is_internal(&self, user_data: u64) -> bool {
        user_data ^ self.key == INTERNAL && self.internal > 0
    }

    /// Says whose `cqe` is; for the scope's ops, restores the caller's
    /// `user_data`, notes the buffer group in `out`, and at the op's last
    /// completion frees the slot and, once no op uses it any more, hands
    /// its owned buffer to `out`.
    #[inline(always)]
    fn settle(&mut self, cqe: &mut Cqe, out: &mut Settled) -> Owner {
        let x = cqe.user_data() ^ self.key;
        let index = x as u32;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            // Live slots have odd generations, and only those are in tags.
            if u64::from(slot.generation) != x >> 32 || !slot.live() {
                return Owner::Foreign;
            }
            cqe.set_user_data(slot.user_data);
            out.group = slot.group;
            if !cqe.has_more() {
                slot.generation = slot.generation.wrapping_add(1);
                slot.next_free = self.free_head;
                self.free_head = index;
                self.free_count += 1;
                let (owned, group) = (slot.owned, slot.group);
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

    /// Forgets an SQE the kernel never saw (see `Ring::retract_scope`), as
    /// if it had posted its last completion, cancelled; an owned buffer no
    /// op uses any more is dropped.
    fn unpush(&mut self, user_data: u64) {
        let mut last = Cqe::from(sys::io_uring_cqe {
            user_data,
            res: -libc::ECANCELED,
            flags: 0,
        });
        self.settle(&mut last, &mut Settled::default());
    }

    /// Keeps `buf` for ops yet to be pushed over it; returns its entry.
    fn keep_owned(&mut self, buf: Vec<u8>) -> u32 {
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
    fn finish_owned(&mut self, index: u32) -> Option<Vec<u8>> {
        let entry = &mut self.owned[index as usize];
        entry.remaining -= 1;
        if entry.remaining > 0 {
            return None;
        }
        self.owned_free.push(index);
        entry.buf.take()
    }

    /// Takes back the owned buffer `index` that no op was pushed over.
    fn unkeep_owned(&mut self, index: u32) -> Option<Vec<u8>> {
        let entry = &mut self.owned[index as usize];
        if entry.remaining > 0 {
            return None;
        }
        self.owned_free.push(index);
        entry.buf.take()
    }

    /// At the scope's end, with every op settled: drops what a panic left.
    fn end(&mut self) {
        self.owned.clear();
        self.owned_free.clear();
        self.renames.clear();
        self.renames_free.clear();
    }

    /// The live slot of the scope whose op carries `user_data` (the first,
    /// if several do).
    fn find(&self, user_data: u64) -> Option<u32> {
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
    fn translate(&mut self, sqe: &mut sys::io_uring_sqe, owned: u32) -> u32 {
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

    fn keep_rename(&mut self, rename: Rename) -> u32 {
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
    fn finish_rename(&mut self, index: u32, res: i32) {
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
const KEYS_PER_DRAW: usize = 32;

/// A key for a new scope: eight bytes from the kernel's random source,
/// drawn for this scope alone (a thread draws them in batches, and none is
/// derived from another, so keys seen in the past say nothing of the next).
fn fresh_key() -> u64 {
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
fn fallback_key() -> u64 {
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = time ^ (u64::from(std::process::id()) << 32) ^ (&time as *const u64 as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Ring {
    /// Runs `f` with a [`Scope`] whose ops may borrow buffers, iovecs,
    /// addresses and paths from outside the scope: safe, zero-copy, and
    /// without an allocation per op.
    ///
    /// The borrow checker keeps everything an op borrows alive and
    /// untouched until the scope returns, and the scope does not return
    /// (nor unwind, if `f` panics) before every op it pushed has posted its
    /// last completion. Ops still in flight when `f` returns are cancelled
    /// and waited for; their completions are discarded, so read what you
    /// need inside `f` (see [`Scope::in_flight`]).
    ///
    /// Completions of ops pushed before the scope pass through the scope's
    /// [`completions`](Scope::completions) untouched, and those not read
    /// there stay in the ring, in order.
    ///
    /// ```
    /// use std::io::Write as _;
    /// use std::os::unix::net::UnixStream;
    /// use uring::{Ring, ops::Read};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// tx.write_all(b"hello, scope")?;
    /// let mut ring = Ring::new(8)?;
    /// let mut buf = [0u8; 32];
    /// let cqe = ring.scope(|s| -> uring::Result<_> {
    ///     s.push(Read::new(&rx, &mut buf[..]).user_data(1))?;
    ///     s.submit_and_wait(1)?;
    ///     // A scope's completions stay in the scope; a plain `Cqe` leaves.
    ///     Ok(s.completions().next().map(|c| c.cqe()))
    /// })?;
    /// let cqe = cqe.expect("the read completed");
    /// assert_eq!(cqe.user_data(), 1);
    /// // The scope has returned: `buf` is ours again.
    /// let n = cqe.result()? as usize;
    /// assert_eq!(&buf[..n], b"hello, scope");
    /// # Ok(())
    /// # }
    /// ```
    pub fn scope<'env, F, T>(&'env mut self, f: F) -> T
    where
        F: for<'scope> FnOnce(&mut Scope<'scope, 'env>) -> T,
    {
        let capacity = self.cq.entries;
        let tail = self.sq.tail();
        self.scope_table.begin(self.id, capacity, tail);
        let mut scope = Scope {
            ring: self,
            _scope: PhantomData,
            _env: PhantomData,
        };
        f(&mut scope)
        // `scope` drops here, or while unwinding: `Scope::drop` waits.
    }

    /// Settles everything the scope left: what completed is reaped, what is
    /// still in flight is cancelled and waited for.
    #[cold]
    #[inline(never)]
    fn end_scope(&mut self) {
        self.settle_cq();
        if self.scope_table.settled() {
            return;
        }
        self.cancel_scope();
        let mut backoff = Duration::from_millis(1);
        // Whether the kernel refused SQEs and the scope took its own back:
        // from then on it only waits.
        let mut retracted = false;
        loop {
            let mut foreign = self.settle_cq();
            if self.scope_table.settled() {
                return;
            }
            if foreign >= self.cq.entries && self.virtual_cq.is_none() {
                // The CQ is full of completions that are not the scope's,
                // and the scope's wait in the kernel's overflow list behind
                // them: move them to a copy the ring reads first, still
                // first in line, so that the kernel can post the rest.
                self.enter_virtual_cq();
                foreign = self.settle_cq();
            }
            // Wake up now and then to cancel again: an op linked after a
            // head that could not be cancelled starts only later.
            let timeout = self.params.has(crate::Features::EXT_ARG).then_some(backoff);
            match self.enter_and_wait(
                !retracted,
                foreign + 1,
                &crate::wait::WaitSpec::timeout(timeout),
            ) {
                Ok(_) => {}
                Err(Error::TimedOut) => {
                    if self.scope_table.internal == 0 {
                        self.cancel_scope();
                        // Submit them, even after a refusal: it may have
                        // been the kernel's last.
                        retracted &= self.scope_table.internal == 0;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) if is_transient(&e) => {}
                Err(e)
                    if e.raw_os_error() == Some(libc::EOWNERDEAD)
                        && self.has_setup(sys::IORING_SETUP_SQPOLL) =>
                {
                    // The SQ thread is gone for good. Before it went, the
                    // kernel completed every op it had taken, and each
                    // enter, this one too, moves their completions from the
                    // overflow list to the CQ; the SQEs it did not take,
                    // nothing will. Take those back, and read the rest.
                    self.retract_scope(true);
                    retracted = true;
                    self.settle_cq();
                    if !self.scope_table.settled() && !self.sq.cq_needs_flush() {
                        fatal(&e);
                    }
                }
                Err(e) => {
                    // The kernel takes no SQEs from this ring (a disabled
                    // ring, a single issuer on another thread): those it
                    // never saw can be taken back. What it did take must be
                    // waited for, with a call that submits nothing.
                    if retracted || !self.retract_scope(false) {
                        fatal(&e);
                    }
                    retracted = true;
                }
            }
        }
    }

    /// Reads every completion in the CQ: the scope's settle and are dropped,
    /// the others stay, in order, at the end of the queue. Returns how many
    /// stay.
    fn settle_cq(&mut self) -> u32 {
        let head = self.cq.head();
        let tail = self.cq.tail();
        let table = &mut self.scope_table;
        table.scratch.clear();
        let mut pos = head;
        while pos != tail {
            // SAFETY: `pos` is between the head and a tail just read.
            let mut cqe = unsafe { self.cq.read(pos) };
            let mut settled = Settled::default();
            // An owned buffer whose ops are done is dropped here.
            if table.settle(&mut cqe, &mut settled) == Owner::Foreign {
                table.scratch.push(cqe);
            }
            pos = pos.wrapping_add(1);
        }
        let kept = table.scratch.len() as u32;
        let new_head = tail.wrapping_sub(kept);
        if new_head != head {
            for (i, &cqe) in table.scratch.iter().enumerate() {
                // SAFETY: `new_head + i` is before `tail`, in the range user
                // space owns until the head is stored below.
                unsafe { self.cq.write(new_head.wrapping_add(i as u32), cqe) };
            }
            self.cq.set_head(new_head);
        }
        kept
    }

    /// Asks the kernel to cancel every op of the scope still in flight, with
    /// as many cancel requests as fit in the SQ (a later round tries again).
    fn cancel_scope(&mut self) {
        for index in 0..self.scope_table.slots.len() as u32 {
            if !self.scope_table.slots[index as usize].live() {
                continue;
            }
            if self.push_scope_cancel(index).is_err() {
                // Submit to make room; errors show again in the wait.
                let _ = self.submit();
                if self.push_scope_cancel(index).is_err() {
                    return;
                }
            }
        }
    }

    /// Queues a cancel request, of the scope's own, for the op in the live
    /// slot `index`.
    fn push_scope_cancel(&mut self, index: u32) -> Result<(), PushError<Cancel>> {
        let table = &self.scope_table;
        self.push(Cancel::new(table.tag(index)).user_data(table.key ^ INTERNAL))?;
        self.scope_table.internal += 1;
        Ok(())
    }

    /// Takes back the scope's SQEs that the kernel has not consumed, when
    /// no SQ thread can be consuming them (there is none, or, with
    /// `sq_thread_dead`, it is gone for good). Returns whether any was.
    fn retract_scope(&mut self, sq_thread_dead: bool) -> bool {
        if self.has_setup(sys::IORING_SETUP_SQPOLL) && !sq_thread_dead {
            return false;
        }
        let tail = self.sq.tail();
        let unconsumed = self.sq.unconsumed();
        let head = tail.wrapping_sub(unconsumed);
        let start = self.scope_table.start_tail;
        // The scope's SQEs are those from `start` on; any the kernel
        // consumed are in flight and must be waited for.
        let from = if head.wrapping_sub(start) as i32 > 0 {
            head
        } else {
            start
        };
        if from == tail {
            return false;
        }
        let mut pos = from;
        while pos != tail {
            // SAFETY: the slot is between the kernel's head and the tail:
            // written by a push of the scope, not consumed.
            let user_data = unsafe { (*self.sq.sqes.add((pos & self.sq.mask) as usize)).user_data };
            self.scope_table.unpush(user_data);
            pos = pos.wrapping_add(1);
        }
        // SAFETY: `from` is between the kernel's head and the tail; without
        // an SQ thread, the kernel reads the SQ only in an enter, and none
        // can run while the scope holds the ring (an SQ thread gone for
        // good reads nothing, and enters of its ring never read the SQ).
        unsafe { self.sq.retract(from) };
        true
    }
}

/// Whether a failed enter may succeed if tried again. (`EBADR` says that
/// completions were dropped, once: the kernel forgets it once it said it.)
fn is_transient(e: &Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR | libc::EAGAIN | libc::EBUSY | libc::ENOMEM | libc::EBADR)
    )
}

/// The kernel holds ops that borrow memory the scope is about to release,
/// and refuses the calls that would wait for them: nothing sound is left to
/// do.
#[cold]
fn fatal(e: &Error) -> ! {
    eprintln!(
        "uring: a scope cannot wait for its ops, which still borrow its memory ({e}); aborting"
    );
    std::process::abort()
}

/// A ring lent to [`Ring::scope`]: its pushes may borrow from outside the
/// scope, for as long as the scope lasts.
///
/// The two lifetimes follow [`std::thread::Scope`]: `'scope` is the scope's
/// own, which everything pushed must outlive; `'env` is the borrow of the
/// ring (and bounds `'scope`).
pub struct Scope<'scope, 'env: 'scope> {
    ring: &'env mut Ring,
    /// Invariant, so that no scope can pass for another.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Pushes an op or a chain whose borrows outlive the scope: all its SQEs
    /// or none. Hands it back in a [`PushError`] when the SQ lacks room, when
    /// as many ops are in flight in the scope as the CQ has entries, when
    /// the ring was created disabled and is not enabled yet, or when a
    /// registered file of it belongs to another ring.
    ///
    /// The scope needs to see every op finish, so an op flagged
    /// `CQE_SKIP_SUCCESS` posts its completion anyway. Ops that name another
    /// op by `user_data` (`Cancel`, `PollRemove`, `PollUpdate`,
    /// `TimeoutRemove`, `TimeoutUpdate`, `LinkTimeoutUpdate`) find the
    /// scope's op that was pushed with that `user_data` (the first, if
    /// several were: [`cancel`](Scope::cancel) cancels them all), or else an
    /// op pushed before the scope. A `PollUpdate` can give a new `user_data`
    /// only to a poll of the scope; for another it completes with
    /// `-EINVAL`.
    #[inline]
    pub fn push<S>(&mut self, submission: S) -> Result<(), PushError<S>>
    where
        S: Submission + Scoped + 'scope,
    {
        self.submission().push(submission)
    }

    /// A batch of pushes, as [`Ring::submission`]: the SQ's cursor stays in
    /// registers until the batch is dropped.
    #[inline]
    pub fn submission(&mut self) -> ScopeSubmissionQueue<'_, 'scope> {
        let ring = &mut *self.ring;
        ScopeSubmissionQueue {
            sq: SubmissionQueue::new(&mut ring.sq),
            table: &mut ring.scope_table,
            disabled: ring.disabled,
            _scope: PhantomData,
        }
    }

    /// Gives `buf` to the scope and pushes an op or a chain over it, built
    /// by `build` from the buffer (its `len` bytes, borrowed) and pushed
    /// with the [`OwnedPush`] it is given. The buffer comes back, untouched
    /// but for what the ops wrote, with the last completion of those ops
    /// ([`ScopeCqe::take_buf`]); or at once, in the error, when nothing was
    /// pushed (the queue was full, or `build` did not push).
    ///
    /// This is how an event loop that runs in one long scope gives each op
    /// a buffer of its own, without borrowing it from outside the scope.
    ///
    /// ```
    /// use std::io::Write as _;
    /// use std::os::unix::net::UnixStream;
    /// use uring::{Ring, ops::Read};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// tx.write_all(b"owned")?;
    /// let mut ring = Ring::new(8)?;
    /// let buf = ring.scope(|s| -> uring::Result<Vec<u8>> {
    ///     s.push_owned(vec![0; 16], |buf, sq| sq.push(Read::new(&rx, buf).user_data(7)))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     let mut buf = cqe.take_buf().expect("the buffer, back");
    ///     buf.truncate(cqe.res().max(0) as usize);
    ///     Ok(buf)
    /// })?;
    /// assert_eq!(buf, b"owned");
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_owned<F>(&mut self, buf: Vec<u8>, build: F) -> Result<(), PushError<Vec<u8>>>
    where
        F: for<'b> FnOnce(&'b mut [u8], OwnedPush<'b, 'scope>),
    {
        let ring = &mut *self.ring;
        let table = &mut ring.scope_table;
        let entry = table.keep_owned(buf);
        let mut refused = PushErrorKind::NothingPushed;
        let bytes = match &mut table.owned[entry as usize].buf {
            // SAFETY: the vector's heap memory does not move while the
            // table keeps it (only the vector itself may move, with the
            // table's entries), and the table hands it back only when no op
            // uses it; the borrow given to `build` is higher-ranked, so it
            // cannot outlive the call but in the ops pushed over it.
            Some(vec) => unsafe { std::slice::from_raw_parts_mut(vec.as_mut_ptr(), vec.len()) },
            None => unreachable!("a kept buffer is there"),
        };
        build(
            bytes,
            OwnedPush {
                sq: SubmissionQueue::new(&mut ring.sq),
                table: &mut ring.scope_table,
                disabled: ring.disabled,
                entry,
                refused: &mut refused,
                _buf: PhantomData,
                _scope: PhantomData,
            },
        );
        match ring.scope_table.unkeep_owned(entry) {
            Some(buf) => Err(PushError::new(buf, refused)),
            None => Ok(()),
        }
    }

    /// Cancels the scope's ops in flight whose `user_data` is `user_data`:
    /// queues one cancel request for each (they go to the kernel at the next
    /// submit) and returns how many. The cancelled ops complete with
    /// `-ECANCELED`, or with their own result if they finished first; the
    /// cancel requests' own completions are not shown.
    pub fn cancel(&mut self, user_data: u64) -> Result<u32, PushError<()>> {
        let ring = &mut *self.ring;
        let table = &ring.scope_table;
        let targets: Vec<u32> = (0..table.slots.len() as u32)
            .filter(|&i| {
                let slot = &table.slots[i as usize];
                slot.live() && slot.user_data == user_data
            })
            .collect();
        if ring.sq.space_left() < targets.len() as u32 {
            return Err(PushError::full(()));
        }
        for &index in &targets {
            if ring.push_scope_cancel(index).is_err() {
                unreachable!("room was checked above");
            }
        }
        Ok(targets.len() as u32)
    }

    /// Submits what was pushed, as [`Ring::submit`].
    #[inline]
    pub fn submit(&mut self) -> Result<u32> {
        self.ring.submit()
    }

    /// Submits and waits for `want` completions, as [`Ring::submit_and_wait`].
    pub fn submit_and_wait(&mut self, want: u32) -> Result<u32> {
        self.ring.submit_and_wait(want)
    }

    /// Waits for `want` completions, as [`Ring::wait`].
    pub fn wait(&mut self, want: u32) -> Result<()> {
        self.ring.wait(want)
    }

    /// Waits for `want` completions or `timeout`, as [`Ring::wait_timeout`].
    pub fn wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<()> {
        self.ring.wait_timeout(want, timeout)
    }

    /// The completions that are ready, in order, as [`Ring::completions`]:
    /// those of the scope's ops carry the `user_data` they were pushed with.
    #[inline]
    pub fn completions(&mut self) -> ScopeCompletions<'_, 'scope> {
        let ring = &mut *self.ring;
        let tail = ring.ready_tail();
        ScopeCompletions {
            inner: Completions::new(&mut ring.cq, tail),
            table: &mut ring.scope_table,
            _scope: PhantomData,
        }
    }

    /// Completions ready to be read, as [`Ring::ready`].
    pub fn ready(&self) -> u32 {
        self.ring.ready()
    }

    /// Free SQ slots.
    pub fn space_left(&mut self) -> u32 {
        self.ring.space_left()
    }

    /// Ops pushed in this scope that have not posted their last completion.
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.ring.scope_table.live()
    }
}

impl Drop for Scope<'_, '_> {
    fn drop(&mut self) {
        if !self.ring.scope_table.settled() {
            self.ring.end_scope();
        }
        self.ring.scope_table.end();
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("in_flight", &self.ring.scope_table.live())
            .finish_non_exhaustive()
    }
}

/// A batch of pushes into a scope, from [`Scope::submission`].
pub struct ScopeSubmissionQueue<'a, 'scope> {
    sq: SubmissionQueue<'a>,
    table: &'a mut ScopeTable,
    disabled: bool,
    /// Invariant, as for [`Scope`].
    _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<'scope> ScopeSubmissionQueue<'_, 'scope> {
    /// Pushes an op or a chain, as [`Scope::push`] does.
    #[inline]
    pub fn push<S>(&mut self, submission: S) -> Result<(), PushError<S>>
    where
        S: Submission + Scoped + 'scope,
    {
        // SAFETY: the submission outlives 'scope, which the scope outlasts.
        unsafe {
            push_tagged(
                &mut self.sq,
                self.table,
                self.disabled,
                submission,
                NO_OWNED,
            )
        }
    }

    /// Free SQ slots.
    pub fn space_left(&mut self) -> u32 {
        self.sq.space_left()
    }
}

/// Pushes `submission` into a scope: its SQEs are tagged with slots of
/// `table`, noting the owned buffer `owned` they use.
///
/// # Safety
///
/// What the submission borrows must stay valid until the scope ends (the
/// scope does not end before each of its SQEs has posted its last
/// completion, after which a `Scoped` submission's memory is free).
#[inline(always)]
unsafe fn push_tagged<S: Submission + Scoped>(
    sq: &mut SubmissionQueue<'_>,
    table: &mut ScopeTable,
    disabled: bool,
    submission: S,
    owned: u32,
) -> Result<(), PushError<S>> {
    if disabled {
        return Err(PushError::new(submission, PushErrorKind::Disabled));
    }
    if table.free_count < S::SQES {
        return Err(PushError::new(submission, PushErrorKind::ScopeFull));
    }
    let tag = |sqe: &mut sys::io_uring_sqe| {
        let mut group = if sqe.flags & sys::IOSQE_BUFFER_SELECT != 0 {
            // SAFETY: both members of the union are a u16.
            u32::from(unsafe { sqe.buf.buf_group })
        } else {
            NO_GROUP
        };
        if group != NO_GROUP && !table.incremental.is_empty() && !table.enter_group(group) {
            refuse_busy(sqe);
            group = NO_GROUP;
        }
        // Ops that name other ops find the scope's by the caller's
        // `user_data`; nothing else pays for it.
        let owned = if S::NAMES_OPS {
            table.translate(sqe, owned)
        } else {
            owned
        };
        sqe.user_data = table.take(sqe.user_data, group, owned);
        sqe.flags &= !sys::IOSQE_CQE_SKIP_SUCCESS;
    };
    // SAFETY: the caller keeps the submission's memory valid for the scope,
    // which waits for every SQE tagged here. The tag and the cleared flag
    // leave each SQE valid.
    let pushed = unsafe { sq.push_unchecked_then(submission, tag) };
    // The queue learns of every push at once, so that a batch that is
    // forgotten instead of dropped cannot hide ops the scope waits for.
    sq.sync();
    pushed
}

/// Turns `sqe` into a NOP that completes with `-EBUSY`, keeping its
/// `user_data` and its place in a chain: an op that would select from an
/// incremental buffer group while another op consumes it.
#[cold]
fn refuse_busy(sqe: &mut sys::io_uring_sqe) {
    let keep = sqe.flags & (sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK | sys::IOSQE_IO_DRAIN);
    *sqe = sys::io_uring_sqe {
        opcode: sys::IORING_OP_NOP,
        flags: keep,
        user_data: sqe.user_data,
        len: libc::EBUSY.wrapping_neg() as u32,
        op_flags: sys::io_uring_sqe_op_flags {
            nop_flags: sys::IORING_NOP_INJECT_RESULT,
        },
        ..Default::default()
    };
}

/// The push of ops over a buffer given to [`Scope::push_owned`]: its
/// closure gets the buffer, borrowed for `'b`, and this, to push one op or
/// chain over it. What else the op borrows must outlive the scope (`'scope`
/// outlives `'b`).
pub struct OwnedPush<'b, 'scope: 'b> {
    sq: SubmissionQueue<'b>,
    table: &'b mut ScopeTable,
    disabled: bool,
    entry: u32,
    /// Why the push did not happen, for `push_owned`'s error.
    refused: &'b mut PushErrorKind,
    /// Invariant, so that the buffer's borrow cannot be stretched.
    _buf: PhantomData<&'b mut &'b ()>,
    /// Invariant, as for [`Scope`].
    _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<'b> OwnedPush<'b, '_> {
    /// Pushes an op or a chain over the buffer: all its SQEs or none. The
    /// buffer comes back with the last of their completions; if the push
    /// does not fit, [`Scope::push_owned`] hands the buffer back instead.
    pub fn push<S>(mut self, submission: S)
    where
        S: Submission + Scoped + 'b,
    {
        // SAFETY: the submission borrows the owned buffer (and what else
        // outlives 'b, which the closure of `push_owned` outlasts, which the
        // scope outlasts): the scope keeps the buffer until the SQEs tagged
        // with its entry have completed, and ends after them.
        let pushed = unsafe {
            push_tagged(
                &mut self.sq,
                self.table,
                self.disabled,
                submission,
                self.entry,
            )
        };
        match pushed {
            Ok(()) => self.table.owned[self.entry as usize].remaining = S::SQES,
            Err(e) => *self.refused = e.kind(),
        }
    }
}

impl fmt::Debug for OwnedPush<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPush").finish_non_exhaustive()
    }
}

impl fmt::Debug for ScopeSubmissionQueue<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeSubmissionQueue")
            .field("sq", &self.sq)
            .finish_non_exhaustive()
    }
}

/// The completions of [`Scope::completions`]: read in order, the head moving
/// past those iterated when this is dropped.
pub struct ScopeCompletions<'a, 'scope> {
    inner: Completions<'a>,
    table: &'a mut ScopeTable,
    _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<'scope> Iterator for ScopeCompletions<'_, 'scope> {
    type Item = ScopeCqe<'scope>;

    #[inline]
    fn next(&mut self) -> Option<ScopeCqe<'scope>> {
        loop {
            let mut cqe = self.inner.next()?;
            let mut settled = Settled::default();
            let owner = self.table.settle(&mut cqe, &mut settled);
            // The CQ learns of every completion read at once, so that an
            // iterator that is forgotten instead of dropped cannot leave
            // settled completions behind.
            self.inner.sync();
            if owner == Owner::Internal {
                continue;
            }
            // A foreign completion leaves `settled` as it was: no group,
            // no buffer.
            return Some(ScopeCqe {
                cqe,
                ring: if owner == Owner::Op {
                    self.table.ring
                } else {
                    0
                },
                group: settled.group,
                claimed: false,
                buf: settled.buf,
                _scope: PhantomData,
            });
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.inner.size_hint().1)
    }
}

impl fmt::Debug for ScopeCompletions<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeCompletions").finish_non_exhaustive()
    }
}

/// A completion read in a scope: a [`Cqe`] (which it dereferences to), and,
/// for the scope's own ops, what the scope knows of it: that the kernel
/// posted it, and the provided-buffer group the op selected from. That is
/// what lets [`BufRing::claim`](crate::BufRing::claim) hand out the buffer
/// it names safely.
///
/// Not `Clone`: a buffer is claimed from a completion once. It cannot leave
/// its scope either, which keeps the group it names the one registered when
/// the op ran (no group can be registered again while a scope holds the
/// ring).
pub struct ScopeCqe<'scope> {
    cqe: Cqe,
    /// The id of the ring whose scope settled it; 0 for a completion that
    /// is not a scope op's.
    ring: u32,
    group: u32,
    /// Whether its buffer has been claimed.
    claimed: bool,
    /// The owned buffer its op was pushed over, back from the scope.
    buf: Option<Vec<u8>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
}

impl ScopeCqe<'_> {
    /// The completion.
    pub fn cqe(&self) -> Cqe {
        self.cqe
    }

    /// Whether the completion is of an op pushed in the scope (rather than
    /// one passing through).
    pub fn is_scope_op(&self) -> bool {
        self.ring != 0
    }

    /// The buffer given to [`Scope::push_owned`], back with the last
    /// completion of the ops pushed over it; `None` for any other
    /// completion, or once taken.
    pub fn take_buf(&mut self) -> Option<Vec<u8>> {
        self.buf.take()
    }

    /// For a claim: the ring and buffer group of a scope op's completion
    /// whose buffer has not been claimed.
    pub(crate) fn provenance(&self) -> Option<(u32, u16)> {
        let group = u16::try_from(self.group).ok()?;
        (self.ring != 0 && !self.claimed).then_some((self.ring, group))
    }

    /// Marks the buffer claimed: a claim happens once per completion.
    pub(crate) fn set_claimed(&mut self) {
        self.claimed = true;
    }
}

impl std::ops::Deref for ScopeCqe<'_> {
    type Target = Cqe;

    fn deref(&self) -> &Cqe {
        &self.cqe
    }
}

impl From<ScopeCqe<'_>> for Cqe {
    fn from(cqe: ScopeCqe<'_>) -> Cqe {
        cqe.cqe
    }
}

impl fmt::Debug for ScopeCqe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.cqe, f)
    }
}

/// A scope's completions collect into plain [`Cqe`]s too.
impl<'scope> FromIterator<ScopeCqe<'scope>> for Vec<Cqe> {
    fn from_iter<I: IntoIterator<Item = ScopeCqe<'scope>>>(iter: I) -> Self {
        iter.into_iter().map(Cqe::from).collect()
    }
}

impl<'scope> Extend<ScopeCqe<'scope>> for Vec<Cqe> {
    fn extend<I: IntoIterator<Item = ScopeCqe<'scope>>>(&mut self, iter: I) {
        Extend::extend(self, iter.into_iter().map(Cqe::from));
    }
}
