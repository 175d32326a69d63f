//! The sizes of a ring's entries, chosen when it is set up and carried in
//! its type: 64-byte SQEs or 128-byte ones (`IORING_SETUP_SQE128`), 16-byte
//! CQEs, 32-byte ones (`IORING_SETUP_CQE32`), or 16-byte ones with 32-byte
//! ones among them (`IORING_SETUP_CQE_MIXED`).
//!
//! A [`Ring`](crate::Ring) is `Ring<Sqe64, Cqe16>` unless it says otherwise;
//! [`Builder::build_sized`](crate::Builder::build_sized) makes the others.
//! Each size is a type, so the code that writes and reads entries is
//! compiled for the ring's sizes alone: the 64-byte ring pays nothing for
//! the others.

use crate::cqueue::Cqe;
use crate::sys::{self, io_uring_cqe, io_uring_cqe32, io_uring_sqe, io_uring_sqe128};
use std::fmt;
use std::ops::Deref;

mod private {
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be an SQE or CQE size: the kernel has only its own",
        label = "not one of uring's entry sizes",
        note = "SQEs are `Sqe64` or `Sqe128`; CQEs are `Cqe16`, `Cqe32` or `CqeMixed`"
    )]
    pub trait Sealed {}
}

/// The size of a ring's SQEs: [`Sqe64`] or [`Sqe128`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an SQE size",
    label = "a ring's first parameter is the size of its SQEs",
    note = "use `Sqe64` (the default) or `Sqe128`, for example `Ring<Sqe128, Cqe32>`"
)]
pub trait SqeSize: private::Sealed + Sized + 'static {
    /// One SQE of the ring, as laid out in the SQE array:
    /// [`io_uring_sqe`] or [`io_uring_sqe128`].
    type Slot: Copy;
    /// The setup flag that asks for it.
    #[doc(hidden)]
    const SETUP: u32;
    /// Writes `sqe` into `slot`, zeroing whatever the slot has past it, and
    /// then `cmd` from `addr3` on: as much of it as the slot holds.
    ///
    /// # Safety
    ///
    /// `slot` must be valid for writes, and every byte of `sqe`
    /// initialised (it is copied as whole words). An SQE built in safe
    /// code always is: every member of its unions spans the union.
    #[doc(hidden)]
    unsafe fn write(slot: *mut Self::Slot, sqe: io_uring_sqe, cmd: Option<&[u8; 80]>);
    /// The 64-byte SQE at the start of `slot`.
    #[doc(hidden)]
    fn sqe(slot: *mut Self::Slot) -> *mut io_uring_sqe;
}

/// 64-byte SQEs: every ring's, unless made with `IORING_SETUP_SQE128`.
#[derive(Debug)]
pub enum Sqe64 {}

/// 128-byte SQEs (`IORING_SETUP_SQE128`, 5.19): room for the 80-byte
/// command of a [`UringCmd80`](crate::ops::UringCmd80) (NVMe passthrough
/// takes them). Every other op works on them as on 64-byte ones.
#[derive(Debug)]
pub enum Sqe128 {}

impl private::Sealed for Sqe64 {}
impl private::Sealed for Sqe128 {}

/// Where the 80-byte command area starts in an SQE (`addr3`).
const CMD_OFFSET: usize = 48;

impl SqeSize for Sqe64 {
    type Slot = io_uring_sqe;
    const SETUP: u32 = 0;

    #[inline(always)]
    unsafe fn write(slot: *mut io_uring_sqe, sqe: io_uring_sqe, cmd: Option<&[u8; 80]>) {
        // Written as four 16-byte words: LLVM then stores the zero words of
        // an SQE 16 bytes at a time and keeps constant words in registers
        // across a loop of pushes, where a plain write of the struct stores
        // it 8 bytes at a time and builds its constants anew at every push.
        // SAFETY: an SQE is 64 plain bytes, four 16-byte words.
        let words: [u128; 4] = unsafe { std::mem::transmute(sqe) };
        let at = slot.cast::<u128>();
        for (i, word) in words.into_iter().enumerate() {
            // SAFETY: the caller's slot, of which this is the i-th 16 bytes
            // (SQE slots are only 8-aligned as Rust sees them: unaligned).
            unsafe { at.add(i).write_unaligned(word) };
        }
        if let Some(cmd) = cmd {
            // Only its first 16 bytes fit; ops with a command take 128-byte
            // SQEs (`FitsSqe`), so this is never reached with a command.
            // SAFETY: bytes 48..64 of the slot, just written.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    cmd.as_ptr(),
                    slot.cast::<u8>().add(CMD_OFFSET),
                    size_of::<io_uring_sqe>() - CMD_OFFSET,
                )
            };
        }
    }

    #[inline(always)]
    fn sqe(slot: *mut io_uring_sqe) -> *mut io_uring_sqe {
        slot
    }
}

impl SqeSize for Sqe128 {
    type Slot = io_uring_sqe128;
    const SETUP: u32 = sys::IORING_SETUP_SQE128;

    #[inline(always)]
    unsafe fn write(slot: *mut io_uring_sqe128, sqe: io_uring_sqe, cmd: Option<&[u8; 80]>) {
        // SAFETY: the caller's; the slot is 128 bytes.
        unsafe {
            slot.write(io_uring_sqe128 { sqe, ext: [0; 64] });
            if let Some(cmd) = cmd {
                std::ptr::copy_nonoverlapping(cmd.as_ptr(), slot.cast::<u8>().add(CMD_OFFSET), 80);
            }
        }
    }

    #[inline(always)]
    fn sqe(slot: *mut io_uring_sqe128) -> *mut io_uring_sqe {
        slot.cast()
    }
}

/// The size of a ring's CQEs: [`Cqe16`], [`Cqe32`] or [`CqeMixed`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a CQE size",
    label = "a ring's second parameter is the size of its CQEs",
    note = "use `Cqe16` (the default), `Cqe32` or `CqeMixed`, for example `Ring<Sqe64, Cqe32>`"
)]
pub trait CqeSize: private::Sealed + Sized + 'static {
    /// What the ring's completions are: [`Cqe`], or [`BigCqe`] with the
    /// extra 16 bytes.
    type Cqe: Copy + fmt::Debug + AsRef<Cqe>;
    /// One entry of the CQ array.
    #[doc(hidden)]
    type Slot: Copy + Default;
    /// The setup flag that asks for it.
    #[doc(hidden)]
    const SETUP: u32;
    /// The most slots one completion takes.
    #[doc(hidden)]
    const MAX_SLOTS: u32 = 1;
    /// The completion at position `head` of `cqes` (of `mask + 1` slots),
    /// if it is one, and how many slots it takes.
    ///
    /// # Safety
    ///
    /// `head` must be before the kernel's tail, read with acquire ordering.
    #[doc(hidden)]
    unsafe fn read(cqes: *const Self::Slot, mask: u32, head: u32) -> (Option<Self::Cqe>, u32);

    /// Whether [`clear_read`](CqeSize::clear_read) has anything to do.
    #[doc(hidden)]
    const CLEARS_READ: bool = false;

    /// Clears what the kernel may not write again in the slots from
    /// position `from` up to `to`, read and about to be handed back: the
    /// extra words of a 32-byte ring's slots (see [`Cqe32`]).
    ///
    /// # Safety
    ///
    /// `cqes` must be a writable array of `mask + 1` slots, and the slots
    /// from `from` to `to` read and not yet handed back to the kernel.
    #[doc(hidden)]
    #[inline(always)]
    unsafe fn clear_read(cqes: *mut Self::Slot, mask: u32, from: u32, to: u32) {
        let _ = (cqes, mask, from, to);
    }
}

/// 16-byte CQEs: every ring's, unless made otherwise.
#[derive(Debug)]
pub enum Cqe16 {}

/// 32-byte CQEs (`IORING_SETUP_CQE32`, 5.19): each completion carries 16
/// more bytes, which commands such as NVMe passthrough fill.
///
/// Linux 6.18 writes those bytes only for the ops that fill them and for
/// completions flagged `IORING_CQE_F_32`: a message from another ring, a
/// resource tag or a multishot op's completion before its last gets the
/// 16 bytes its slot held before. The ring clears them as it hands each
/// slot back, so they read as zeros.
#[derive(Debug)]
pub enum Cqe32 {}

/// 16-byte CQEs with 32-byte ones among them (`IORING_SETUP_CQE_MIXED`,
/// 6.18): the ops that post a big CQE (`IORING_CQE_F_32`) take two slots,
/// the others one.
#[derive(Debug)]
pub enum CqeMixed {}

impl private::Sealed for Cqe16 {}
impl private::Sealed for Cqe32 {}
impl private::Sealed for CqeMixed {}

impl CqeSize for Cqe16 {
    type Cqe = Cqe;
    type Slot = io_uring_cqe;
    const SETUP: u32 = 0;

    #[inline(always)]
    unsafe fn read(cqes: *const io_uring_cqe, mask: u32, head: u32) -> (Option<Cqe>, u32) {
        // SAFETY: the masked position is in the array; the caller's ordering
        // makes the kernel's write visible.
        let cqe = unsafe { cqes.add((head & mask) as usize).read() };
        (Some(Cqe::from(cqe)), 1)
    }
}

impl CqeSize for Cqe32 {
    type Cqe = BigCqe;
    type Slot = io_uring_cqe32;
    const SETUP: u32 = sys::IORING_SETUP_CQE32;

    #[inline(always)]
    unsafe fn read(cqes: *const io_uring_cqe32, mask: u32, head: u32) -> (Option<BigCqe>, u32) {
        // SAFETY: as for `Cqe16`.
        let raw = unsafe { cqes.add((head & mask) as usize).read() };
        (Some(BigCqe(raw, true)), 1)
    }

    const CLEARS_READ: bool = true;

    #[inline]
    unsafe fn clear_read(cqes: *mut io_uring_cqe32, mask: u32, from: u32, to: u32) {
        let n = to.wrapping_sub(from).min(mask.wrapping_add(1));
        for i in 0..n {
            // SAFETY: a masked position of the array, one of the slots the
            // caller read and has not handed back: the kernel writes none
            // of them until the head moves past them.
            unsafe {
                let slot = cqes.add((from.wrapping_add(i) & mask) as usize);
                std::ptr::addr_of_mut!((*slot).big_cqe).write([0; 2]);
            }
        }
    }
}

impl CqeSize for CqeMixed {
    type Cqe = BigCqe;
    type Slot = io_uring_cqe;
    const SETUP: u32 = sys::IORING_SETUP_CQE_MIXED;
    const MAX_SLOTS: u32 = 2;

    #[inline(always)]
    unsafe fn read(cqes: *const io_uring_cqe, mask: u32, head: u32) -> (Option<BigCqe>, u32) {
        let index = (head & mask) as usize;
        // SAFETY: as for `Cqe16`.
        let cqe = unsafe { cqes.add(index).read() };
        if cqe.flags & sys::IORING_CQE_F_SKIP != 0 {
            // Padding at the end of the array, before a big CQE that would
            // not fit there: one slot. An entry flagged `F_32` too (which
            // only a message posted with both flags is) takes two, as the
            // kernel laid it out.
            return (None, 1 + u32::from(cqe.flags & sys::IORING_CQE_F_32 != 0));
        }
        if cqe.flags & sys::IORING_CQE_F_32 == 0 {
            return (
                Some(BigCqe(
                    io_uring_cqe32 {
                        cqe,
                        big_cqe: [0; 2],
                    },
                    false,
                )),
                1,
            );
        }
        // A big CQE takes this slot and the next. The kernel posts none
        // across the end of the array (it pads instead), but a resize
        // copies the slots one by one to the same positions of a smaller
        // array, where one may then end at its start: its second half is
        // the first slot.
        let next = if index == mask as usize { 0 } else { index + 1 };
        // SAFETY: the next slot is in the array, and part of this entry,
        // which the kernel published whole.
        let extra = unsafe { cqes.add(next).cast::<[u64; 2]>().read() };
        (
            Some(BigCqe(
                io_uring_cqe32 {
                    cqe,
                    big_cqe: extra,
                },
                true,
            )),
            2,
        )
    }
}

/// The CQE sizes whose completions take one slot each: [`Cqe16`] and
/// [`Cqe32`]. [`Ring::scope`](crate::Ring::scope) runs on rings of these: a
/// scope moves the completions that are not its own within the CQ when it
/// settles its last ops, which a [`CqeMixed`] ring's, of two sizes and
/// padded at the array's end, do not allow.
#[diagnostic::on_unimplemented(
    message = "a scope needs a ring whose completions are all one size, not `{Self}`",
    label = "a ring of mixed CQEs",
    note = "scopes run on rings of `Cqe16` or `Cqe32` CQEs (`Builder::build_sized::<_, Cqe32>`); push to a `CqeMixed` ring with `push` or `push_unchecked`"
)]
pub trait UniformCqe: CqeSize + private::Sealed {
    /// A completion as two registers' worth of bits (the 16-byte one) or
    /// as itself, for the scope's settling path.
    #[doc(hidden)]
    type Bits: Copy;
    #[doc(hidden)]
    fn to_bits(cqe: Self::Cqe) -> Self::Bits;
    #[doc(hidden)]
    fn from_bits(bits: Self::Bits) -> Self::Cqe;
    /// The completion as it sits in its slot.
    #[doc(hidden)]
    fn from_slot(slot: Self::Slot) -> Self::Cqe;
    /// The slot that holds the completion.
    #[doc(hidden)]
    fn into_slot(cqe: Self::Cqe) -> Self::Slot;
    /// The first 16 bytes, whose `user_data` a scope restores.
    #[doc(hidden)]
    fn cqe_mut(cqe: &mut Self::Cqe) -> &mut Cqe;
}

impl UniformCqe for Cqe16 {
    type Bits = u128;

    #[inline(always)]
    fn to_bits(cqe: Cqe) -> u128 {
        cqe.to_bits()
    }

    #[inline(always)]
    fn from_bits(bits: u128) -> Cqe {
        Cqe::from_bits(bits)
    }

    #[inline(always)]
    fn from_slot(slot: io_uring_cqe) -> Cqe {
        Cqe::from(slot)
    }

    #[inline(always)]
    fn into_slot(cqe: Cqe) -> io_uring_cqe {
        *cqe.as_raw()
    }

    #[inline(always)]
    fn cqe_mut(cqe: &mut Cqe) -> &mut Cqe {
        cqe
    }
}

impl UniformCqe for Cqe32 {
    type Bits = BigCqe;

    #[inline(always)]
    fn to_bits(cqe: BigCqe) -> BigCqe {
        cqe
    }

    #[inline(always)]
    fn from_bits(bits: BigCqe) -> BigCqe {
        bits
    }

    #[inline(always)]
    fn from_slot(slot: io_uring_cqe32) -> BigCqe {
        BigCqe(slot, true)
    }

    #[inline(always)]
    fn into_slot(cqe: BigCqe) -> io_uring_cqe32 {
        cqe.0
    }

    #[inline(always)]
    fn cqe_mut(cqe: &mut BigCqe) -> &mut Cqe {
        Cqe::from_raw_mut(&mut cqe.0.cqe)
    }
}

/// A completion with the 16 extra bytes of a 32-byte CQE: what the
/// completions of a ring with [`Cqe32`] or [`CqeMixed`] CQEs are. It
/// dereferences to the [`Cqe`] of its first 16 bytes. Its `Default` is a
/// zeroed 16-byte completion, as [`Cqe`]'s is: room for
/// [`Ring::peek_batch`](crate::Ring::peek_batch) to fill.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct BigCqe(io_uring_cqe32, bool);

impl BigCqe {
    /// The extra 16 bytes (`big_cqe`), as two words; zero for a 16-byte CQE
    /// of a mixed ring.
    #[inline]
    pub fn big_cqe(&self) -> [u64; 2] {
        self.0.big_cqe
    }

    /// Whether the kernel posted it as a 32-byte CQE: always on a
    /// [`Cqe32`] ring, on a [`CqeMixed`] ring when it says so
    /// (`IORING_CQE_F_32`).
    #[inline]
    pub fn is_big(&self) -> bool {
        self.1
    }

    /// The raw structure.
    pub fn as_raw(&self) -> &io_uring_cqe32 {
        &self.0
    }
}

impl AsRef<Cqe> for BigCqe {
    #[inline(always)]
    fn as_ref(&self) -> &Cqe {
        self
    }
}

impl Deref for BigCqe {
    type Target = Cqe;

    #[inline(always)]
    fn deref(&self) -> &Cqe {
        Cqe::from_raw_ref(&self.0.cqe)
    }
}

impl fmt::Debug for BigCqe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigCqe")
            .field("cqe", &**self)
            .field("big_cqe", &self.0.big_cqe)
            .field("is_big", &self.1)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_sqe() -> io_uring_sqe {
        io_uring_sqe {
            opcode: sys::IORING_OP_URING_CMD,
            fd: 3,
            user_data: 0x1122_3344,
            ..Default::default()
        }
    }

    #[test]
    fn a_128_byte_slot_gets_the_command_from_addr3_on() {
        let cmd: [u8; 80] = std::array::from_fn(|i| i as u8 + 1);
        let mut slot = io_uring_sqe128 {
            sqe: io_uring_sqe::default(),
            ext: [0xAA; 64],
        };
        // SAFETY: a local slot, valid for writes.
        unsafe { Sqe128::write(&mut slot, sample_sqe(), Some(&cmd)) };
        // SAFETY: the struct is 128 plain bytes.
        let bytes: [u8; 128] = unsafe { std::mem::transmute(slot) };
        assert_eq!(bytes[0], sys::IORING_OP_URING_CMD);
        assert_eq!(bytes[32..40], 0x1122_3344u64.to_le_bytes());
        assert_eq!(bytes[48..128], cmd);
    }

    #[test]
    fn a_128_byte_slot_without_a_command_is_zero_past_the_sqe() {
        let mut slot = io_uring_sqe128 {
            sqe: io_uring_sqe::default(),
            ext: [0xAA; 64],
        };
        // SAFETY: a local slot, valid for writes.
        unsafe { Sqe128::write(&mut slot, sample_sqe(), None) };
        assert_eq!(slot.ext, [0; 64], "nothing of an earlier SQE is left");
    }

    #[test]
    fn a_mixed_cq_reads_small_big_and_padding_entries() {
        let small = io_uring_cqe {
            user_data: 1,
            res: 5,
            flags: 0,
        };
        let big = io_uring_cqe {
            user_data: 2,
            res: 6,
            flags: sys::IORING_CQE_F_32,
        };
        let skip = io_uring_cqe {
            user_data: 0,
            res: 0,
            flags: sys::IORING_CQE_F_SKIP,
        };
        // Four slots: small, big (two slots), then padding at the end.
        let words = [7u64, 8];
        // SAFETY: two u64s are one 16-byte slot.
        let extra: io_uring_cqe = unsafe { std::mem::transmute(words) };
        let cqes = [small, big, extra, skip];
        // SAFETY: positions 0..4 of a 4-slot array.
        unsafe {
            let (a, n) = CqeMixed::read(cqes.as_ptr(), 3, 0);
            let a = a.unwrap();
            assert_eq!(
                (a.user_data(), a.is_big(), a.big_cqe(), n),
                (1, false, [0, 0], 1)
            );
            let (b, n) = CqeMixed::read(cqes.as_ptr(), 3, 1);
            let b = b.unwrap();
            assert_eq!(
                (b.user_data(), b.res(), b.is_big(), b.big_cqe(), n),
                (2, 6, true, [7, 8], 2)
            );
            let (c, n) = CqeMixed::read(cqes.as_ptr(), 3, 3);
            assert!(c.is_none());
            assert_eq!(n, 1);
            // A big CQE in the last slot (as a resize to a smaller CQ
            // leaves one) ends in the first.
            let cqes = [extra, small, small, big];
            let (d, n) = CqeMixed::read(cqes.as_ptr(), 3, 7);
            let d = d.unwrap();
            assert_eq!(
                (d.user_data(), d.is_big(), d.big_cqe(), n),
                (2, true, [7, 8], 2)
            );
        }
    }
}
