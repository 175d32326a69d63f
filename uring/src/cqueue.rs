//! The completion queue: completions are read after an acquire load of the
//! kernel's tail, and released back with one release store of the head.

use crate::entries::{Cqe16, CqeSize, UniformCqe};
use crate::sys::{self, io_uring_cqe};
use std::fmt;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// One completion: the `user_data` of the op it completes, its result and
/// its flags.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Cqe(io_uring_cqe);

/// The error of a completion's negative `res`: its errno, but for the
/// kernel's internal restart codes (`ERESTARTSYS` 512, `ERESTARTNOINTR`
/// 513, `ERESTARTNOHAND` 514, `ERESTART_RESTARTBLOCK` 516), which a system
/// call never returns and no `errno` names: those are `EINTR`.
#[cold]
#[inline(never)]
pub(crate) fn completion_error(res: i32) -> io::Error {
    io::Error::from_raw_os_error(completion_errno(res))
}

/// The errno of [`completion_error`], for callers that make the error in
/// line (it is a word, with nothing to free).
#[inline(always)]
pub(crate) fn completion_errno(res: i32) -> i32 {
    match res.wrapping_neg() {
        512..=514 | 516 => libc::EINTR,
        errno => errno,
    }
}

impl Cqe {
    /// The `user_data` of the op this completes.
    #[inline(always)]
    pub fn user_data(&self) -> u64 {
        self.0.user_data
    }

    /// The op's result: the count or value it returned, or the error (a
    /// `res` from -4095 to -1 is `-errno`; any other value is data, such as
    /// the usage bits of a zero-copy notification). The kernel's own
    /// restart codes, which Linux 6.18 lets through for some interrupted
    /// ops (a splice in an io-wq worker that a cancel interrupts ends with
    /// `-ERESTARTSYS`, 512), come out as `EINTR`, what a system call
    /// interrupted so reports; [`res`](Cqe::res) keeps them.
    #[inline]
    pub fn result(&self) -> io::Result<u32> {
        if (-4095..0).contains(&self.0.res) {
            Err(completion_error(self.0.res))
        } else {
            Ok(self.0.res as u32)
        }
    }

    /// The raw result: a value, or `-errno`.
    #[inline(always)]
    pub fn res(&self) -> i32 {
        self.0.res
    }

    /// The raw `IORING_CQE_F_*` flags (with the buffer id in the upper 16
    /// bits when [`buffer_id`](Cqe::buffer_id) is `Some`).
    #[inline(always)]
    pub fn flags(&self) -> u32 {
        self.0.flags
    }

    /// The id of the provided buffer the op used (`IORING_CQE_F_BUFFER`).
    #[inline]
    pub fn buffer_id(&self) -> Option<u16> {
        if self.0.flags & sys::IORING_CQE_F_BUFFER != 0 {
            Some((self.0.flags >> sys::IORING_CQE_BUFFER_SHIFT) as u16)
        } else {
            None
        }
    }

    /// Whether the op will post more completions (`IORING_CQE_F_MORE`,
    /// multishot ops and zero-copy sends).
    #[inline]
    pub fn has_more(&self) -> bool {
        self.0.flags & sys::IORING_CQE_F_MORE != 0
    }

    /// Whether the socket had more data after this receive
    /// (`IORING_CQE_F_SOCK_NONEMPTY`).
    #[inline]
    pub fn sock_nonempty(&self) -> bool {
        self.0.flags & sys::IORING_CQE_F_SOCK_NONEMPTY != 0
    }

    /// Whether the kernel keeps the provided buffer this completion names,
    /// to go on filling it (`IORING_CQE_F_BUF_MORE`, incrementally consumed
    /// buffer rings, 6.12).
    #[inline]
    pub fn buf_more(&self) -> bool {
        self.0.flags & sys::IORING_CQE_F_BUF_MORE != 0
    }

    /// Whether this is a zero-copy send's notification (`IORING_CQE_F_NOTIF`).
    #[inline]
    pub fn is_notification(&self) -> bool {
        self.0.flags & sys::IORING_CQE_F_NOTIF != 0
    }

    /// Whether a zero-copy send's notification says the data was copied
    /// after all (`IORING_NOTIF_USAGE_ZC_COPIED`, reported when the send
    /// asked for `IORING_SEND_ZC_REPORT_USAGE`).
    #[inline]
    pub fn zc_copied(&self) -> bool {
        self.is_notification() && self.0.res as u32 & sys::IORING_NOTIF_USAGE_ZC_COPIED != 0
    }

    /// The raw structure.
    pub fn as_raw(&self) -> &io_uring_cqe {
        &self.0
    }

    #[inline(always)]
    pub(crate) fn set_user_data(&mut self, user_data: u64) {
        self.0.user_data = user_data;
    }

    /// The completion's 16 bytes as one integer, which calls pass in two
    /// registers where they pass the structure through memory.
    #[inline(always)]
    pub(crate) fn to_bits(self) -> u128 {
        // SAFETY: `io_uring_cqe` is 16 bytes of plain integers with no
        // padding (`u64`, `i32`, `u32`).
        unsafe { std::mem::transmute::<io_uring_cqe, u128>(self.0) }
    }

    /// The completion whose bytes `bits` holds (see [`to_bits`](Cqe::to_bits)).
    #[inline(always)]
    pub(crate) fn from_bits(bits: u128) -> Cqe {
        // SAFETY: every bit pattern is a valid `io_uring_cqe` (plain
        // integers), of the same size as `u128`.
        Cqe(unsafe { std::mem::transmute::<u128, io_uring_cqe>(bits) })
    }

    /// The raw structure, seen as a `Cqe`.
    #[inline(always)]
    pub(crate) fn from_raw_ref(raw: &io_uring_cqe) -> &Cqe {
        // SAFETY: `Cqe` is a transparent wrapper of `io_uring_cqe`.
        unsafe { &*(raw as *const io_uring_cqe).cast::<Cqe>() }
    }

    /// The `Cqe` of a raw CQE, in place, to change.
    pub(crate) fn from_raw_mut(raw: &mut io_uring_cqe) -> &mut Cqe {
        // SAFETY: `Cqe` is a transparent wrapper of `io_uring_cqe`; the
        // borrow is the raw CQE's, exclusive.
        unsafe { &mut *(raw as *mut io_uring_cqe).cast::<Cqe>() }
    }
}

impl AsRef<Cqe> for Cqe {
    #[inline(always)]
    fn as_ref(&self) -> &Cqe {
        self
    }
}

impl From<io_uring_cqe> for Cqe {
    fn from(cqe: io_uring_cqe) -> Cqe {
        Cqe(cqe)
    }
}

impl fmt::Debug for Cqe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cqe")
            .field("user_data", &self.0.user_data)
            .field("res", &self.0.res)
            .field("flags", &format_args!("{:#x}", self.0.flags))
            .finish()
    }
}

/// The user-space side of the CQ ring: the kernel's, or a [`VirtualCq`]
/// read in its place.
pub(crate) struct Cq<C: CqeSize = Cqe16> {
    khead: *const AtomicU32,
    ktail: *const AtomicU32,
    koverflow: *const AtomicU32,
    /// The CQ ring's flags word, which user space writes
    /// (`IORING_CQ_EVENTFD_DISABLED`); null if the kernel has none.
    kflags: *const AtomicU32,
    cqes: *mut C::Slot,
    pub(crate) mask: u32,
    pub(crate) entries: u32,
    /// Our copy of the head: only user space writes it.
    head: u32,
}

impl<C: CqeSize> Cq<C> {
    /// # Safety
    ///
    /// `ring` must be the live CQ ring mapping described by `off`, and
    /// outlive the queue.
    pub(crate) unsafe fn new(ring: *mut u8, off: &sys::io_cqring_offsets) -> Cq<C> {
        // SAFETY: the offsets come from the kernel and lie inside the mapping.
        unsafe {
            let at = |o: u32| ring.add(o as usize);
            let khead = at(off.head) as *const AtomicU32;
            Cq {
                khead,
                ktail: at(off.tail) as *const AtomicU32,
                koverflow: at(off.overflow) as *const AtomicU32,
                kflags: if off.flags == 0 {
                    std::ptr::null()
                } else {
                    at(off.flags) as *const AtomicU32
                },
                cqes: at(off.cqes).cast::<C::Slot>(),
                mask: *(at(off.ring_mask) as *const u32),
                entries: *(at(off.ring_entries) as *const u32),
                head: (*khead).load(Ordering::Relaxed),
            }
        }
    }

    /// The CQ ring's flags word, if the kernel has one.
    pub(crate) fn flags(&self) -> Option<&AtomicU32> {
        // SAFETY: when not null, points into the CQ ring mapping, alive as
        // long as `self`; the word is shared with the kernel, hence atomic.
        unsafe { self.kflags.as_ref() }
    }

    /// The kernel's tail. Acquire: the CQEs before it are fully written.
    #[inline(always)]
    pub(crate) fn tail(&self) -> u32 {
        // SAFETY: points into the CQ ring mapping.
        unsafe { (*self.ktail).load(Ordering::Acquire) }
    }

    #[inline(always)]
    pub(crate) fn head(&self) -> u32 {
        self.head
    }

    /// Completions ready to be read.
    #[inline(always)]
    pub(crate) fn ready(&self) -> u32 {
        self.tail().wrapping_sub(self.head)
    }

    /// Completions ready to be read: as many as slots, on a ring whose
    /// completions take one each; counted one by one on a mixed CQ, where
    /// a big one takes two slots and padding one.
    #[inline(always)]
    pub(crate) fn completions_ready(&self) -> u32 {
        if C::MAX_SLOTS == 1 {
            return self.ready();
        }
        self.scan(u32::MAX, |_| {}).0
    }

    /// What a wait for `want` completions asks the kernel for, which
    /// counts slots, and whether that is fewer than `want` needs: `want`
    /// on a ring of one slot per completion; on a mixed CQ, the slots
    /// filled and one more per completion missing, but never a number the
    /// kernel may be unable to reach (`sq_flags` are the SQ ring's flags).
    ///
    /// On a mixed CQ, a 32-byte completion that finds one free slot (or,
    /// at the array's end, a slot of padding and one more) is held back
    /// until the CQ is read, and so is everything after it: the CQ then
    /// fills no further than all its slots but one. A wait for more could
    /// never end, and Linux 6.18 spins in it without looking at signals.
    /// So a wait asks for at most that many, and, while the kernel holds
    /// back a completion the free slots cannot take, for no more than are
    /// filled.
    #[inline(always)]
    pub(crate) fn wait_target(&self, want: u32, sq_flags: u32) -> (u32, bool) {
        if C::MAX_SLOTS == 1 {
            return (want, false);
        }
        if self.big_held_back(sq_flags) {
            return (self.ready(), true);
        }
        let missing = want.saturating_sub(self.completions_ready());
        let slots = self.ready().saturating_add(missing);
        let reachable = self.entries - 1;
        if slots > reachable {
            (reachable, true)
        } else {
            (slots, false)
        }
    }

    /// Moves the head past the padding at it, on a mixed CQ: slots that
    /// hold no completion, which the kernel can post into again once the
    /// head is past them. (A wait for a completion behind padding at the
    /// array's end that the head sits on could never end otherwise: the
    /// kernel holds a 32-byte completion that needs the padding's slot.)
    #[inline]
    pub(crate) fn skip_padding(&mut self) {
        if C::MAX_SLOTS == 1 {
            return;
        }
        let tail = self.tail();
        while self.head != tail {
            // SAFETY: the head is before a tail read with acquire ordering.
            let (cqe, slots) = unsafe { C::read(self.cqes, self.mask, self.head) };
            if cqe.is_some() {
                break;
            }
            self.head = self.head.wrapping_add(slots);
        }
    }

    /// Whether the kernel holds a completion back (`sq_flags`, the SQ
    /// ring's flags, say the CQ overflowed) that may be a 32-byte one the
    /// free slots of a mixed CQ cannot take: two in a row, or, from the
    /// array's last slot, one of padding and two at the start.
    #[inline]
    fn big_held_back(&self, sq_flags: u32) -> bool {
        if sq_flags & sys::IORING_SQ_CQ_OVERFLOW == 0 {
            return false;
        }
        let tail = self.tail();
        let free = self.entries.saturating_sub(tail.wrapping_sub(self.head));
        let need = if tail & self.mask == self.mask { 3 } else { 2 };
        free < need
    }

    /// Calls `each` on up to `n` ready completions from the head on,
    /// without moving the head; returns how many it saw and the position
    /// after the last.
    #[inline]
    pub(crate) fn scan(&self, n: u32, each: impl FnMut(C::Cqe)) -> (u32, u32) {
        self.scan_to(self.tail(), n, each)
    }

    /// [`scan`](Self::scan) up to `tail`, a tail read with
    /// [`tail`](Self::tail).
    #[inline(always)]
    pub(crate) fn scan_to(&self, tail: u32, n: u32, mut each: impl FnMut(C::Cqe)) -> (u32, u32) {
        let mut pos = self.head;
        let mut seen = 0;
        while seen < n && pos != tail {
            // SAFETY: `pos` is before a tail read with acquire ordering.
            let (cqe, slots) = unsafe { C::read(self.cqes, self.mask, pos) };
            pos = pos.wrapping_add(slots);
            if let Some(cqe) = cqe {
                each(cqe);
                seen += 1;
            }
        }
        (seen, pos)
    }

    /// Reads the slot at ring position `pos`.
    ///
    /// # Safety
    ///
    /// `pos` must be between the head and a tail read with [`tail`](Self::tail).
    #[inline(always)]
    pub(crate) unsafe fn read_slot(&self, pos: u32) -> C::Slot {
        // SAFETY: the caller keeps `pos` in the published range, which the
        // kernel does not write until the head moves past it.
        unsafe { self.cqes.add((pos & self.mask) as usize).read() }
    }

    /// Hands the CQEs before `head` back to the kernel.
    #[inline(always)]
    pub(crate) fn set_head(&mut self, head: u32) {
        self.head = head;
        self.publish_head();
    }

    /// Moves only our copy of the head to `head`, past CQEs read: the
    /// kernel learns of it at [`publish_head`](Self::publish_head), or at
    /// the ring's next wait (which publishes it first). Until then it does
    /// not reuse their slots, and counts them as ready.
    #[inline(always)]
    pub(crate) fn set_head_unpublished(&mut self, head: u32) {
        self.head = head;
    }

    /// The head the kernel sees.
    #[cfg(test)]
    pub(crate) fn published_head(&self) -> u32 {
        // SAFETY: points into the CQ ring mapping.
        unsafe { (*self.khead).load(Ordering::Relaxed) }
    }

    /// Hands the CQEs before our copy of the head back to the kernel (for a
    /// reader that moved only the copy).
    #[inline(always)]
    pub(crate) fn publish_head(&self) {
        if C::CLEARS_READ {
            // SAFETY: points into the CQ ring mapping; only user space
            // writes the head, so it is the head last handed back.
            let published = unsafe { (*self.khead).load(Ordering::Relaxed) };
            // SAFETY: the CQ array is writable (the kernel maps it so, as
            // does the memory of a ring that is not in the kernel's), and
            // the slots from the head handed back to ours were read.
            unsafe { C::clear_read(self.cqes, self.mask, published, self.head) };
        }
        // SAFETY: points into the CQ ring mapping. Release: our reads of the
        // CQEs, and the clearing above, happen before the kernel may
        // overwrite them.
        unsafe { (*self.khead).store(self.head, Ordering::Release) }
    }

    /// Completions the kernel had to drop because the CQ was full (only on
    /// kernels without `IORING_FEAT_NODROP`, or when its overflow list could
    /// not grow).
    pub(crate) fn overflow(&self) -> u32 {
        // (mutants: `0` is equivalent on every kernel with
        // `IORING_FEAT_NODROP` (5.5): the kernel counts here only completions
        // it could not even keep in its overflow list.)
        // SAFETY: points into the CQ ring mapping.
        unsafe { (*self.koverflow).load(Ordering::Relaxed) }
    }
}

impl<C: UniformCqe> Cq<C> {
    /// The slots of the completions from the head up to `tail` (a tail
    /// read with [`tail`](Self::tail)) that lie in one piece of the array:
    /// from the head's slot to the tail's or to the array's end, whichever
    /// comes first; empty if `tail` is before the head. For a reader that
    /// walks them with a pointer (the reactor's), reading each with
    /// [`read_at`](Self::read_at) and moving the head one on.
    #[inline]
    pub(crate) fn run_to(&self, tail: u32) -> (*const C::Slot, *const C::Slot) {
        let at = self.head & self.mask;
        let ready = tail.wrapping_sub(self.head);
        // (More than the CQ holds: a tail before the head.)
        let ready = if ready > self.entries {
            0
        } else {
            ready.min(self.entries - at)
        };
        // SAFETY: `at < entries` and `at + ready <= entries`: a slot of the
        // array and one at most one past its end.
        unsafe {
            (
                self.cqes.add(at as usize).cast_const(),
                self.cqes.add((at + ready) as usize).cast_const(),
            )
        }
    }

    /// Reads the CQE in slot `at`.
    ///
    /// # Safety
    ///
    /// `at` must be the slot of a ring position between the head and a
    /// tail read with [`tail`](Self::tail) (one [`run_to`](Self::run_to)
    /// gave).
    #[inline(always)]
    pub(crate) unsafe fn read_at(&self, at: *const C::Slot) -> C::Cqe {
        // SAFETY: the caller's: the kernel posted the slot, and does not
        // write it until the head is handed back past it.
        C::from_slot(unsafe { at.read() })
    }

    /// Reads the CQE at ring position `pos`.
    ///
    /// # Safety
    ///
    /// `pos` must be between the head and a tail read with [`tail`](Self::tail).
    #[inline(always)]
    pub(crate) unsafe fn read(&self, pos: u32) -> C::Cqe {
        // SAFETY: the caller's.
        C::from_slot(unsafe { self.read_slot(pos) })
    }

    /// Overwrites the CQE at ring position `pos`.
    ///
    /// # Safety
    ///
    /// As for [`read`](Self::read): between the head and a tail read with
    /// [`tail`](Self::tail), where the slot belongs to user space.
    #[inline(always)]
    pub(crate) unsafe fn write(&mut self, pos: u32, cqe: C::Cqe) {
        // SAFETY: the caller keeps `pos` in the published range, which the
        // kernel neither reads nor writes until the head moves past it.
        unsafe {
            self.cqes
                .add((pos & self.mask) as usize)
                .write(C::into_slot(cqe))
        }
    }
}

/// A CQ in user memory, which the ring reads in place of the kernel's while
/// it holds completions.
///
/// A scope that must make room in a CQ full of completions that are not its
/// own moves them here: they stay first in line, and the readers of the CQ
/// (iterators, `peek`, `advance`, `ready`) read them through the very same
/// pointers, so that they cost nothing when there is no copy. Waits move
/// what the kernel has posted meanwhile behind them; once the copy is read
/// to its end, the ring reads the kernel's CQ again.
pub(crate) struct VirtualCq<C: CqeSize = Cqe16> {
    /// The kernel's CQ, set aside.
    real: Cq<C>,
    /// The copies, at positions masked by the length (a power of two): a
    /// boxed slice, held by its raw pointer.
    buf: NonNull<[C::Slot]>,
    /// The copy's head and tail, which the view reads and writes as it
    /// would the kernel's: a boxed pair, held by its raw pointer.
    ends: NonNull<[AtomicU32; 2]>,
}

// The view (`Cq`) points into `buf` and `ends` while this value is moved
// (in its `Box`, with the ring) and used through `&mut self`. So both are
// allocations of their own, reached only through raw pointers derived from
// `Box::leak`: a field or a `Vec` of this value would be retagged by
// every move and `&mut self`, which (in Rust's aliasing model) invalidates
// the view's pointers into it.

/// A boxed slice of `len` default slots, as a raw pointer.
fn boxed_slots<T: Copy + Default>(len: usize) -> NonNull<[T]> {
    NonNull::from(Box::leak(vec![T::default(); len].into_boxed_slice()))
}

impl<C: CqeSize> VirtualCq<C> {
    /// Sets the kernel's CQ `cq` aside and points `cq` at an empty copy.
    pub(crate) fn enter(cq: &mut Cq<C>) -> Box<VirtualCq<C>> {
        let len = (cq.entries as usize).next_power_of_two();
        let ends = Box::new([AtomicU32::new(0), AtomicU32::new(0)]);
        let v = Box::new(VirtualCq {
            real: Cq { ..*cq },
            buf: boxed_slots(len),
            ends: NonNull::from(Box::leak(ends)),
        });
        *cq = v.view(0);
        v
    }

    /// A `Cq` reading this copy from `head` on, with `head` published as
    /// its head: what is before it was read (a reader that hands its head
    /// back then clears only from there, `C::clear_read`, never the words
    /// of copies not yet read).
    fn view(&self, head: u32) -> Cq<C> {
        // SAFETY: `ends` is live until the drop, and only ever read or
        // written atomically.
        unsafe { self.ends.as_ref()[0].store(head, Ordering::Relaxed) };
        let ends = self.ends.as_ptr().cast::<AtomicU32>();
        Cq {
            khead: ends,
            // SAFETY: the second of the pair.
            ktail: unsafe { ends.add(1) },
            koverflow: self.real.koverflow,
            kflags: self.real.kflags,
            cqes: self.buf.as_ptr().cast::<C::Slot>(),
            mask: self.buf.len() as u32 - 1,
            entries: self.real.entries,
            head,
        }
    }

    /// The copy's tail.
    fn tail(&self) -> &AtomicU32 {
        // SAFETY: `ends` is live until the drop, and only ever read or
        // written atomically.
        unsafe { &self.ends.as_ref()[1] }
    }

    /// The slot of the copy at index `i` (below the length).
    fn slot(&self, i: u32) -> *mut C::Slot {
        debug_assert!((i as usize) < self.buf.len());
        // SAFETY: in bounds of the live boxed slice.
        unsafe { self.buf.as_ptr().cast::<C::Slot>().add(i as usize) }
    }

    /// Moves the completions of the kernel's CQ to the end of the copy that
    /// `cq` reads, growing it as needed.
    pub(crate) fn absorb(&mut self, cq: &mut Cq<C>) {
        let real_head = self.real.head;
        let real_tail = self.real.tail();
        let n = real_tail.wrapping_sub(real_head);
        if n == 0 {
            return;
        }
        let head = cq.head;
        let tail = self.tail().load(Ordering::Relaxed);
        let used = tail.wrapping_sub(head);
        let mut at = tail;
        // (mutants: `>=` is equivalent: re-laid in a buffer of the same
        // length, the copies keep their order.)
        if (used + n) as usize > self.buf.len() {
            // Re-lay the copies from position 0 in a larger buffer.
            let len = ((used + n) as usize).next_power_of_two();
            let old = self.buf;
            let mask = old.len() as u32 - 1;
            self.buf = boxed_slots(len);
            for i in 0..used {
                let from = old
                    .as_ptr()
                    .cast::<C::Slot>()
                    .wrapping_add((head.wrapping_add(i) & mask) as usize);
                // SAFETY: both in bounds of live slices (`i < used <= old
                // length < len`); the slots are plain data.
                unsafe { self.slot(i).write(from.read()) };
            }
            // SAFETY: `old` came from `boxed_slots`, and the view moves to
            // the new buffer below, before anything reads the CQ again.
            drop(unsafe { Box::from_raw(old.as_ptr()) });
            *cq = self.view(0);
            at = used;
        }
        let mask = self.buf.len() as u32 - 1;
        for i in 0..n {
            // SAFETY: `real_head + i` is between the kernel CQ's head and a
            // tail just read.
            let slot = unsafe { self.real.read_slot(real_head.wrapping_add(i)) };
            // SAFETY: a masked index of the live buffer, past the copies
            // not yet read, where the view reads nothing until the tail
            // moves.
            unsafe { self.slot(at.wrapping_add(i) & mask).write(slot) };
        }
        self.tail().store(at.wrapping_add(n), Ordering::Release);
        self.real.set_head(real_tail);
    }

    /// Whether every copy has been read.
    pub(crate) fn drained(&self, cq: &Cq<C>) -> bool {
        self.tail().load(Ordering::Relaxed) == cq.head
    }

    /// Points `cq` back at the kernel's CQ; the copy must be drained.
    pub(crate) fn leave(&self, cq: &mut Cq<C>) {
        *cq = Cq { ..self.real };
    }

    /// Swaps the view `cq` with the kernel's CQ set aside, so that a wait
    /// can run on the kernel's; swapping again restores both.
    pub(crate) fn swap(&mut self, cq: &mut Cq<C>) {
        std::mem::swap(&mut self.real, cq);
    }
}

impl<C: CqeSize> Drop for VirtualCq<C> {
    fn drop(&mut self) {
        // SAFETY: both came from `Box::leak` and are freed once, here;
        // the ring points its view elsewhere before it drops the copy.
        unsafe {
            drop(Box::from_raw(self.buf.as_ptr()));
            drop(Box::from_raw(self.ends.as_ptr()));
        }
    }
}

/// The completions ready when it was made, in order. Each one is read as it
/// is iterated; the head moves past what was iterated when this is dropped,
/// so completions not reached stay in the queue (and so do those iterated
/// by one that is forgotten instead of dropped: the next reader sees them
/// again. A scope's iterator moves the head at each completion instead.)
///
/// On a ring of [`Cqe32`](crate::Cqe32) or [`CqeMixed`](crate::CqeMixed)
/// CQEs, the completions are [`BigCqe`](crate::BigCqe)s.
pub struct Completions<'a, C: CqeSize = Cqe16> {
    cq: &'a mut Cq<C>,
    cqes: *const C::Slot,
    mask: u32,
    head: u32,
    tail: u32,
}

impl<'a, C: CqeSize> Completions<'a, C> {
    /// The completions between the queue's head and `tail`, a tail read with
    /// [`Cq::tail`].
    #[inline(always)]
    pub(crate) fn new(cq: &'a mut Cq<C>, tail: u32) -> Completions<'a, C> {
        Completions {
            cqes: cq.cqes,
            mask: cq.mask,
            head: cq.head,
            tail,
            cq,
        }
    }
}

impl<C: CqeSize> Completions<'_, C> {
    /// Marks the completions iterated so far as read, as dropping the
    /// iterator would. Only our copy of the head moves; the kernel learns of
    /// it when the iterator is dropped, or at the ring's next enter if it is
    /// forgotten.
    #[inline(always)]
    pub(crate) fn sync(&mut self) {
        self.cq.head = self.head;
    }
}

impl<C: CqeSize> Iterator for Completions<'_, C> {
    type Item = C::Cqe;

    #[inline(always)]
    fn next(&mut self) -> Option<C::Cqe> {
        loop {
            if self.head == self.tail {
                return None;
            }
            // SAFETY: `head` is before a tail read with acquire ordering; the
            // kernel does not write the slot until the head moves past it.
            let (cqe, slots) = unsafe { C::read(self.cqes, self.mask, self.head) };
            self.head = self.head.wrapping_add(slots);
            if cqe.is_some() {
                return cqe;
            }
        }
    }

    /// The loop of `fold`, `sum`, `count`, ...: a pointer walked over
    /// each run of CQ slots, with no mask per completion.
    // (See `fold_walk`.)
    #[inline]
    fn fold<B, F>(self, init: B, f: F) -> B
    where
        F: FnMut(B, C::Cqe) -> B,
    {
        self.fold_walk::<false, B, F>(init, f)
    }

    /// Calls `f` on each completion, read two at a time.
    // One step of the walk's pointer and one test for two completions (see
    // `walk`): 1.3 instructions fewer per NOP at batch 32 (fat LTO). Not
    // for `fold` itself, through which a scope's iterator runs its own,
    // larger, function: two copies of that took the loops around it more
    // registers than the step saves (a scope's NOP at batch 1 from 98 to
    // 105 instructions).
    #[inline]
    fn for_each<F>(self, mut f: F)
    where
        F: FnMut(C::Cqe),
    {
        self.fold_walk::<true, (), _>((), |(), cqe| f(cqe));
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.tail.wrapping_sub(self.head) as usize;
        if C::MAX_SLOTS == 1 {
            (n, Some(n))
        } else {
            // A mixed CQ's slots may be padding, which yields nothing.
            (0, Some(n))
        }
    }
}

impl<C: CqeSize> Completions<'_, C> {
    /// The loop of `for_each`, `fold`, `sum`, ...: on a ring whose
    /// completions take one slot each, a batch of more than one is read by
    /// walking a pointer over each run of slots that does not wrap, with no
    /// mask per completion, and a batch of one is told by one comparison
    /// (the batch of two or more counted only after it); with `PAIRS`,
    /// two completions at each step, where the walks take an empty batch
    /// too.
    #[inline]
    fn fold_walk<const PAIRS: bool, B, F>(mut self, init: B, mut f: F) -> B
    where
        F: FnMut(B, C::Cqe) -> B,
    {
        let mut acc = init;
        if C::MAX_SLOTS == 1 && self.head.wrapping_add(1) == self.tail {
            // SAFETY: the head is before a tail read with acquire ordering
            // (just before it).
            let (cqe, _) = unsafe { C::read(self.cqes, self.mask, self.head) };
            // Before `f`, which may panic: the completion is then read.
            self.head = self.tail;
            if let Some(cqe) = cqe {
                acc = f(acc, cqe);
            }
            return acc;
        }
        let n = self.tail.wrapping_sub(self.head);
        if C::MAX_SLOTS != 1 {
            for cqe in self.by_ref() {
                acc = f(acc, cqe);
            }
            return acc;
        }
        // (A batch of one was read above. With `PAIRS`, an empty one makes
        // the walks below walk empty runs: `first` is 0, and so is
        // `n - first`; without, a walk takes one completion at least.)
        if !PAIRS && n == 0 {
            return acc;
        }
        let index = self.head & self.mask;
        let first = n.min(self.mask + 1 - index);
        // SAFETY: `index + first` is at most the array's length, and the
        // `first` slots from `index` on are before a tail read with acquire
        // ordering (the kernel does not write them until the head moves past
        // them); so are the `n - first` from the array's start on, after
        // the wrap.
        unsafe {
            acc = walk::<PAIRS, C, B>(
                self.cqes.add(index as usize),
                first,
                &mut self.head,
                acc,
                &mut f,
            );
            if first < n {
                acc = walk::<PAIRS, C, B>(self.cqes, n - first, &mut self.head, acc, &mut f);
            }
        }
        acc
    }
}

/// Calls `f` on the completions in the `count` slots from `first` on, and
/// moves `head` past them; past those `f` was given, if it panics. With
/// `PAIRS`, two at each step of the loop (an odd count's first alone):
/// the pointer's step and the loop's test are shared by two completions.
///
/// # Safety
///
/// `count` must be at least 1 (or 0, with `PAIRS`), and the slots
/// completions of a size of one slot each, between the head and a tail
/// read with acquire ordering, not wrapping.
#[inline(always)]
unsafe fn walk<const PAIRS: bool, C: CqeSize, B>(
    first: *const C::Slot,
    count: u32,
    head: &mut u32,
    mut acc: B,
    f: &mut impl FnMut(B, C::Cqe) -> B,
) -> B {
    /// Moves the head past the slots walked: all of them, or those `f`
    /// was given if it unwinds.
    struct Unwind<'a, T> {
        head: &'a mut u32,
        first: *const T,
        at: *const T,
    }
    impl<T> Drop for Unwind<'_, T> {
        fn drop(&mut self) {
            // SAFETY: both point into the same run, `first <= at`.
            let walked = unsafe { self.at.offset_from(self.first) } as u32;
            *self.head = self.head.wrapping_add(walked);
        }
    }
    /// One step of the walk: reads the completion at the guard's slot,
    /// moves the guard past it, and hands it to `f`.
    ///
    /// # Safety
    ///
    /// The guard's slot is in the run, before its end.
    #[inline(always)]
    unsafe fn step<C: CqeSize, B>(
        guard: &mut Unwind<'_, C::Slot>,
        acc: B,
        f: &mut impl FnMut(B, C::Cqe) -> B,
    ) -> B {
        let at = guard.at;
        // SAFETY: the caller's: a slot of the run, and a completion takes
        // one slot, so there is one at every slot.
        let (cqe, _) = unsafe { C::read(at, 0, 0) };
        // SAFETY: `at` is before the run's end: one on is in the array or
        // one past it. Moved before `f`, which may panic: the completion
        // is then read.
        guard.at = unsafe { at.add(1) };
        match cqe {
            Some(cqe) => f(acc, cqe),
            None => acc,
        }
    }
    let mut guard = Unwind {
        head,
        first,
        at: first,
    };
    if PAIRS {
        // SAFETY: the run is in the array (the caller's contract).
        let end = unsafe { first.add(count as usize) };
        if count & 1 != 0 {
            // SAFETY: `count >= 1`: the run's first slot.
            acc = unsafe { step::<C, B>(&mut guard, acc, f) };
        }
        while guard.at != end {
            // SAFETY: an even number of slots, at least two, is left from
            // the guard's slot to `end`: both steps are in the run.
            acc = unsafe { step::<C, B>(&mut guard, acc, f) };
            // SAFETY: as above.
            acc = unsafe { step::<C, B>(&mut guard, acc, f) };
        }
        drop(guard);
        return acc;
    }
    // Counted down rather than compared with the run's end: LLVM then
    // steps one pointer, which is the guard's too (it stepped two, or one
    // and a copy for the guard), one instruction less per completion in a
    // scope's walk.
    let mut left = count;
    loop {
        // SAFETY: `left >= 1` slots of the run are left from the guard's
        // slot on (the caller's `count >= 1`, then one fewer at each step).
        acc = unsafe { step::<C, B>(&mut guard, acc, f) };
        // At least 1 before: never below 0.
        left -= 1;
        if left == 0 {
            break;
        }
    }
    drop(guard);
    acc
}

impl ExactSizeIterator for Completions<'_, Cqe16> {}

impl ExactSizeIterator for Completions<'_, crate::entries::Cqe32> {}

impl<C: CqeSize> Drop for Completions<'_, C> {
    #[inline(always)]
    fn drop(&mut self) {
        self.cq.set_head(self.head);
    }
}

impl<C: CqeSize> fmt::Debug for Completions<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completions")
            .field("slots", &self.tail.wrapping_sub(self.head))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CQ ring mapping of `entries` 16-byte CQEs in local memory, laid
    /// out as the kernel lays one out: head, tail, mask, entries, overflow,
    /// flags, then the CQEs.
    struct FakeCq {
        /// The mapping, a leaked boxed slice reached only through this
        /// pointer (as the kernel's is only through the `mmap` pointer).
        base: *mut u8,
        words: usize,
        off: sys::io_cqring_offsets,
    }

    impl FakeCq {
        fn new(entries: u32) -> FakeCq {
            let words = 4 + 2 * entries as usize;
            let memory = vec![0u64; words].into_boxed_slice();
            let base = Box::into_raw(memory).cast::<u8>();
            // SAFETY: the mask and the entries, inside the mapping.
            unsafe {
                base.add(8).cast::<u32>().write(entries - 1);
                base.add(12).cast::<u32>().write(entries);
            }
            let off = sys::io_cqring_offsets {
                head: 0,
                tail: 4,
                ring_mask: 8,
                ring_entries: 12,
                overflow: 16,
                cqes: 32,
                flags: 20,
                resv1: 0,
                user_addr: 0,
            };
            FakeCq { base, words, off }
        }

        fn base(&mut self) -> *mut u8 {
            self.base
        }

        /// Posts `user_data` as the kernel would: the CQE, then the tail.
        fn post(&mut self, user_data: u64) {
            let base = self.base();
            // SAFETY: the tail word and a CQE slot of the mapping.
            unsafe {
                let tail = &*base.add(4).cast::<AtomicU32>();
                let t = tail.load(Ordering::Relaxed);
                let mask = base.add(8).cast::<u32>().read();
                let slot = base.add(32).cast::<io_uring_cqe>().add((t & mask) as usize);
                slot.write(io_uring_cqe {
                    user_data,
                    res: 0,
                    flags: 0,
                });
                tail.store(t.wrapping_add(1), Ordering::Release);
            }
        }

        /// The kernel's view of the head.
        fn head(&mut self) -> u32 {
            // SAFETY: the head word of the mapping.
            unsafe { (*self.base().cast::<AtomicU32>()).load(Ordering::Acquire) }
        }
    }

    impl Drop for FakeCq {
        fn drop(&mut self) {
            let slice = std::ptr::slice_from_raw_parts_mut(self.base.cast::<u64>(), self.words);
            // SAFETY: the boxed slice `new` leaked, freed once.
            drop(unsafe { Box::from_raw(slice) });
        }
    }

    /// Reads every completion `cq` has ready, moving its head past them.
    fn drain(cq: &mut Cq) -> Vec<u64> {
        let mut got = Vec::new();
        let tail = cq.tail();
        while cq.head() != tail {
            // SAFETY: between the head and a tail just read.
            got.push(unsafe { cq.read(cq.head()) }.user_data());
            cq.set_head(cq.head().wrapping_add(1));
        }
        got
    }

    /// The copy of a full CQ is read first, grows when the kernel posts
    /// more than it holds, keeps the order across the growth and the move
    /// of its box, and hands the CQ back once read. Free of system calls,
    /// so that Miri checks the view's pointers into the copy
    /// (tests/scripts/miri.sh).
    #[test]
    fn a_copied_cq_is_read_first_grows_and_hands_back() {
        let mut fake = FakeCq::new(4);
        // SAFETY: the fake mapping outlives the queue.
        let mut cq: Cq = unsafe { Cq::new(fake.base(), &fake.off) };
        for ud in 0..4 {
            fake.post(ud);
        }
        let v = VirtualCq::enter(&mut cq);
        // The box moves, as it does into the ring.
        let mut held = Some(v);
        let v = held.as_mut().unwrap();
        v.absorb(&mut cq);
        assert_eq!(fake.head(), 4, "the kernel's CQ was emptied");
        // SAFETY: the first copy, below the copy's tail.
        assert_eq!(unsafe { cq.read(cq.head()) }.user_data(), 0);
        cq.set_head(cq.head().wrapping_add(1));
        // Twice a full kernel CQ more: the copy grows to 8, then to 16,
        // keeping the unread ones first and in order.
        for round in 1..3 {
            for ud in 4 * round..4 * round + 4 {
                fake.post(ud);
            }
            v.absorb(&mut cq);
            assert_eq!(u64::from(fake.head()), 4 * round + 4);
        }
        assert!(!v.drained(&cq));
        let mut moved = held.take();
        let v = moved.as_mut().unwrap();
        assert_eq!(drain(&mut cq), (1..12).collect::<Vec<_>>());
        assert!(v.drained(&cq));
        fake.post(12);
        v.leave(&mut cq);
        drop(moved);
        assert_eq!(drain(&mut cq), [12], "the kernel's CQ again");
        assert_eq!(fake.head(), 13);
    }
}
