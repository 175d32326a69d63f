//! The slab of in-flight ops: each slot keeps one op's memory (inline when
//! it fits, boxed otherwise) at an address that does not change until the
//! slot is released, and the generation that makes stale ids harmless.

use crate::reactor::op::Completion;
use crate::reactor::ring_buf::RingBuf;
use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};
use std::ptr::NonNull;
use std::task::Waker;

/// Words of inline storage per slot: room for an op over a `Vec` and a
/// small callback without a box.
pub(crate) const STORAGE_WORDS: usize = 12;

/// A slot's storage for one type-erased value.
#[repr(C)]
pub(crate) struct Storage([MaybeUninit<u64>; STORAGE_WORDS]);

impl Storage {
    pub(crate) const fn uninit() -> Storage {
        Storage([MaybeUninit::uninit(); STORAGE_WORDS])
    }
}

/// How a `T` lives in a [`Storage`]: in place when it fits, else boxed.
pub(crate) struct Stored<T>(PhantomData<T>);

impl<T> Stored<T> {
    const INLINE: bool = mem::size_of::<T>() <= mem::size_of::<Storage>()
        && mem::align_of::<T>() <= mem::align_of::<Storage>();

    /// Moves `value` into `storage`; returns where it is.
    ///
    /// # Safety
    ///
    /// `storage` must hold no value.
    #[inline(always)]
    pub(crate) unsafe fn write(storage: *mut Storage, value: T) -> *mut T {
        if Self::INLINE {
            let at = storage.cast::<T>();
            // SAFETY: the storage is large and aligned enough for a `T`
            // (checked by `INLINE`) and empty (the caller's contract).
            unsafe { at.write(value) };
            at
        } else {
            // Kept as a raw pointer, never as a `Box`: moving or reading a
            // `Box` asserts it is the value's one pointer, which would
            // invalidate `at` and every pointer derived from it since.
            let at = Box::into_raw(Box::new(value));
            // SAFETY: a pointer fits in the storage (one word of twelve).
            unsafe { storage.cast::<*mut T>().write(at) };
            at
        }
    }

    /// Where the value is.
    ///
    /// # Safety
    ///
    /// `storage` must hold a `T` written by [`write`](Self::write).
    #[inline(always)]
    pub(crate) unsafe fn get(storage: *mut Storage) -> *mut T {
        if Self::INLINE {
            storage.cast()
        } else {
            // SAFETY: the storage holds the pointer `write` stored (the
            // caller's contract).
            unsafe { storage.cast::<*mut T>().read() }
        }
    }

    /// Moves the value out; the storage holds none after.
    ///
    /// # Safety
    ///
    /// `storage` must hold a `T` written by [`write`](Self::write), which is
    /// taken only once.
    #[inline(always)]
    pub(crate) unsafe fn take(storage: *mut Storage) -> T {
        // SAFETY: the storage holds the value (the caller's contract).
        unsafe {
            if Self::INLINE {
                storage.cast::<T>().read()
            } else {
                // The box `write` made, taken back once.
                *Box::from_raw(storage.cast::<*mut T>().read())
            }
        }
    }
}

/// What the reactor does with a slot's value, by the value's type.
pub(crate) struct VTable {
    /// A one-shot op's last completion (its result, flags and provided
    /// buffer, in registers): takes the value and runs its callback (or,
    /// for a future's op, nothing: futures take their op).
    pub(crate) call: unsafe fn(*mut Storage, i32, u32, Option<RingBuf>),
    /// One completion of a multishot op: the value stays.
    pub(crate) each: unsafe fn(*mut Storage, Completion),
    /// Drops the value; with the op's last completion when there is one,
    /// so that what it carries (an accepted descriptor, a buffer) is
    /// released too.
    pub(crate) discard: unsafe fn(*mut Storage, Option<Completion>),
}

/// What a slot is doing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    /// On the free list.
    Free,
    /// A one-shot op whose callback runs at its last completion.
    Callback,
    /// A one-shot op awaited by a future, not yet complete.
    Waiting,
    /// A one-shot op awaited by a future, complete: the result waits in the
    /// slot for the future.
    Ready,
    /// A one-shot op or a stream whose future was dropped: its memory is
    /// dropped at its last completion.
    Orphan,
    /// A multishot op with a callback.
    Multi,
    /// A multishot op's callback is running (its value is in use by it).
    /// A one-shot op's slot is released before its callback runs, which
    /// takes the value out first.
    Running,
    /// As `Running`, and the op's last completion has arrived: the one
    /// the callback was given, or one that arrived while it ran.
    RunningLast,
    /// A multishot op whose callback panicked: its value is leaked (never
    /// freed under the kernel), its completions are dropped.
    Panicked,
    /// A multishot op read as a stream; its items queue in the value.
    Stream,
    /// A stream whose last completion has arrived.
    StreamDone,
    /// The reactor's own op (the wake-up poll of its executor).
    Internal,
}

impl State {
    /// The kernel may still use the slot's op (its last completion has
    /// not been read).
    pub(crate) fn in_kernel(self) -> bool {
        matches!(
            self,
            State::Callback
                | State::Waiting
                | State::Orphan
                | State::Multi
                | State::Stream
                | State::Running
                | State::Panicked
                | State::Internal
        )
    }
}

/// One op's slot: what the reactor knows of the op; its value is in the
/// storage `storage` points to.
///
/// (In this order: the state, `has_first` and the group's tag side by
/// side, so that a release clears them with one store.)
#[repr(C)]
pub(crate) struct Slot {
    /// Odd while an op holds the slot, even while it is free. 64 bits, so
    /// that it never comes round: an `OpId` kept however long never names
    /// a later op of the slot. A tag carries its low 32 bits, enough to
    /// tell apart the ops the kernel can have of one slot (one at a time).
    pub(crate) generation: u64,
    /// What a completion's `user_data`, unmixed from the key, must be for
    /// the callback's fast path ([`Core::resolve_call`](crate::reactor::core::Core::resolve_call)):
    /// the slot's index and the low 32 bits of its generation, as its
    /// tag carries them, while the slot holds a one-shot op with a
    /// callback whose only completion is still to come (`Callback`, no
    /// first completion); [`NO_FAST`] otherwise, which names no slot. One
    /// comparison then stands for the generation's, the state's and the
    /// first completion's.
    pub(crate) fast: u64,
    pub(crate) vtable: &'static VTable,
    /// The slot's storage, in a chunk that never moves.
    pub(crate) storage: NonNull<Storage>,
    pub(crate) buf: Option<RingBuf>,
    pub(crate) waker: Option<Waker>,
    pub(crate) res: i32,
    pub(crate) flags: u32,
    pub(crate) next_free: u32,
    pub(crate) state: State,
    /// Whether `res` and `flags` hold the op's first completion (a one-shot
    /// op that completes twice: zero-copy sends).
    pub(crate) has_first: bool,
    /// The provided-buffer group the op selects from, if any.
    pub(crate) group: Option<u16>,
    /// The op is multishot: each completion becomes an item.
    pub(crate) multishot: bool,
}

unsafe fn nothing(_: *mut Storage, _: Completion) {}
unsafe fn call_nothing(_: *mut Storage, _: i32, _: u32, _: Option<RingBuf>) {}
unsafe fn discard_nothing(_: *mut Storage, _: Option<Completion>) {}

/// The table of a slot that holds no value.
pub(crate) static EMPTY: VTable = VTable {
    call: call_nothing,
    each: nothing,
    discard: discard_nothing,
};

/// A slot's [`fast`](Slot::fast) when no completion takes the fast path
/// to it: its low 32 bits are `NO_SLOT`, an index no slab has.
pub(crate) const NO_FAST: u64 = u64::MAX;

const CHUNK: u32 = 256;
/// The end of the free list.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// A chunk of storages, from a leaked `Box<[Storage]>`: reached through
/// raw pointers only, never through a reference to the chunk, so that a
/// pointer to a value stays valid while the slab is used and grows.
struct Chunk(NonNull<Storage>);

impl Drop for Chunk {
    fn drop(&mut self) {
        let all = std::ptr::slice_from_raw_parts_mut(self.0.as_ptr(), CHUNK as usize);
        // SAFETY: the storage was leaked from a box of this length; what the
        // slots held was dropped before, and no op the kernel may still
        // run uses it (a slab with such ops leaks its chunks instead, see
        // `Slab::leak_storage`).
        drop(unsafe { Box::from_raw(all) });
        #[cfg(test)]
        CHUNKS_FREED.with(|n| n.set(n.get() + 1));
    }
}

#[cfg(test)]
thread_local! {
    static CHUNKS_FREED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Chunks this thread has freed.
#[cfg(test)]
pub(crate) fn chunks_freed() -> usize {
    CHUNKS_FREED.with(|n| n.get())
}

/// The slots, and their storage in chunks that never move: a value keeps
/// its address while the slab grows.
pub(crate) struct Slab {
    slots: Vec<Slot>,
    chunks: Vec<Chunk>,
    free_head: u32,
}

impl Slab {
    pub(crate) fn new() -> Slab {
        Slab {
            slots: Vec::new(),
            chunks: Vec::new(),
            free_head: NO_SLOT,
        }
    }

    /// The slot `index`, if the slab has it.
    #[inline(always)]
    pub(crate) fn get(&self, index: u32) -> Option<&Slot> {
        self.slots.get(index as usize)
    }

    /// The slot `index`, if the slab has it.
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, index: u32) -> Option<&mut Slot> {
        self.slots.get_mut(index as usize)
    }

    /// The slot `index`, which the caller knows exists.
    #[inline(always)]
    pub(crate) fn slot(&mut self, index: u32) -> &mut Slot {
        match self.slots.get_mut(index as usize) {
            Some(slot) => slot,
            None => unreachable!("slot {index} is not in the slab"),
        }
    }

    /// The slot `index`, without a bounds check.
    ///
    /// # Safety
    ///
    /// `index` must be below `slots.len()`: an index on the free list, or
    /// one `alloc` handed out (`grow` makes every index below the length,
    /// and slots are never removed; they go with the slab).
    #[inline(always)]
    pub(crate) unsafe fn held(&mut self, index: u32) -> &mut Slot {
        debug_assert!((index as usize) < self.slots.len());
        // SAFETY: in bounds, as the caller vouches.
        unsafe { self.slots.get_unchecked_mut(index as usize) }
    }

    /// The storage of slot `index`, which the caller knows exists.
    #[inline(always)]
    pub(crate) fn storage(&mut self, index: u32) -> *mut Storage {
        self.slot(index).storage.as_ptr()
    }

    /// Takes a free slot, growing the slab by a chunk when none is free;
    /// `None` when the index space is exhausted.
    #[inline(always)]
    pub(crate) fn alloc(&mut self) -> Option<u32> {
        if self.free_head == NO_SLOT {
            self.grow()?;
        }
        let index = self.free_head;
        // SAFETY: the head of the free list (not `NO_SLOT`: `grow` ran if
        // it was) is an index `grow` made.
        self.free_head = unsafe { self.held(index) }.next_free;
        Some(index)
    }

    #[cold]
    fn grow(&mut self) -> Option<()> {
        let first = u32::try_from(self.slots.len()).ok()?;
        // The last index stays unused: no slot is ever `NO_SLOT`.
        first.checked_add(CHUNK)?;
        let chunk: Box<[Storage]> = (0..CHUNK).map(|_| Storage::uninit()).collect();
        let chunk = NonNull::from(Box::leak(chunk)).cast::<Storage>();
        self.chunks.push(Chunk(chunk));
        self.slots.reserve(CHUNK as usize);
        for i in 0..CHUNK {
            self.slots.push(Slot {
                generation: 0,
                fast: NO_FAST,
                next_free: if i + 1 < CHUNK {
                    first + i + 1
                } else {
                    self.free_head
                },
                state: State::Free,
                has_first: false,
                multishot: false,
                group: None,
                res: 0,
                flags: 0,
                vtable: &EMPTY,
                // SAFETY: `i < CHUNK`, inside the chunk.
                storage: unsafe { chunk.add(i as usize) },
                buf: None,
                waker: None,
            });
        }
        self.free_head = first;
        Some(())
    }

    /// Puts slot `index` back on the free list; its value must be gone.
    #[inline(always)]
    pub(crate) fn release(&mut self, index: u32) {
        let head = self.free_head;
        let slot = self.slot(index);
        slot.generation = slot.generation.wrapping_add(1);
        slot.fast = NO_FAST;
        slot.state = State::Free;
        slot.next_free = head;
        slot.group = None;
        slot.has_first = false;
        slot.multishot = false;
        if slot.buf.is_some() {
            slot.buf = None;
        }
        if slot.waker.is_some() {
            slot.waker = None;
        }
        self.free_head = index;
    }

    /// Puts the slot of a one-shot callback back on the free list, its
    /// value about to be taken by the call: such a slot holds no buffer
    /// (a first completion's was taken for the call) and no waker.
    ///
    /// # Safety
    ///
    /// `index` must be a slot of this slab (one `alloc` handed out).
    #[inline(always)]
    pub(crate) unsafe fn release_callback(&mut self, index: u32) {
        let head = self.free_head;
        // SAFETY: `index` is one of the slab's, as the caller vouches.
        let slot = unsafe { self.held(index) };
        debug_assert!(slot.buf.is_none() && slot.waker.is_none() && !slot.multishot);
        slot.generation = slot.generation.wrapping_add(1);
        slot.fast = NO_FAST;
        slot.state = State::Free;
        slot.next_free = head;
        slot.group = None;
        slot.has_first = false;
        self.free_head = index;
    }

    /// Leaks the storage of every slot, values and all: for ops the kernel
    /// may still use when the slab goes.
    pub(crate) fn leak_storage(&mut self) {
        std::mem::forget(std::mem::take(&mut self.chunks));
    }

    /// Every slot index the slab has.
    pub(crate) fn indices(&self) -> std::ops::Range<u32> {
        0..self.slots.len() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value too large for a slot's inline storage lives boxed: the
    /// pointer `write` returns, writes through it, `get` and `take` all
    /// reach the one value. Free of system calls, so that Miri checks the
    /// pointers (tests/scripts/miri.sh).
    #[test]
    fn a_boxed_value_is_reached_through_every_pointer_to_it() {
        type Big = [u64; STORAGE_WORDS + 4];
        const { assert!(!Stored::<Big>::INLINE && Stored::<[u64; 2]>::INLINE) };
        let mut storage = Storage::uninit();
        let at = &mut storage as *mut Storage;
        // SAFETY: the storage is empty; each pointer is used while the
        // value is there, and the value is taken once.
        unsafe {
            let value = Stored::<Big>::write(at, [7; STORAGE_WORDS + 4]);
            (*value)[0] = 1;
            assert_eq!(value, Stored::<Big>::get(at));
            (*Stored::<Big>::get(at))[1] = 2;
            assert_eq!((&(*value))[..3], [1, 2, 7]);
            let back = Stored::<Big>::take(at);
            assert_eq!(back[..3], [1, 2, 7]);
            let small = Stored::<[u64; 2]>::write(at, [3, 4]);
            (*small)[1] = 5;
            assert_eq!(Stored::<[u64; 2]>::take(at), [3, 5]);
        }
    }
}
