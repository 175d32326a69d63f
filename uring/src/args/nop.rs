//! What a NOP can be asked to complete with.

use crate::op::SqeField;
use crate::sys;

/// The result a [`Nop`](crate::ops::Nop) completes with instead of 0
/// (`IORING_NOP_INJECT_RESULT`, 6.10): a count, or `-errno` to fail it (and
/// the chain it heads). Made from an `i32`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NopResult(Option<i32>);

impl NopResult {
    /// Completes with 0, as a plain NOP does.
    pub const NONE: NopResult = NopResult(None);
}

impl From<i32> for NopResult {
    fn from(res: i32) -> NopResult {
        NopResult(Some(res))
    }
}

// SAFETY: a number and a flag, no address.
unsafe impl SqeField<(u32, u32)> for NopResult {
    #[inline(always)]
    fn into_field(self) -> (u32, u32) {
        match self.0 {
            Some(res) => (res as u32, sys::IORING_NOP_INJECT_RESULT),
            None => (0, 0),
        }
    }
}

/// The two words a [`Nop`](crate::ops::Nop) puts in the extra 16 bytes of
/// a 32-byte CQE (`IORING_NOP_CQE32`, 6.18): on a ring of
/// [`Cqe32`](crate::Cqe32) or [`CqeMixed`](crate::CqeMixed) CQEs (elsewhere
/// the NOP fails with `EINVAL`). Made from a `[u64; 2]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NopBigCqe(Option<[u64; 2]>);

impl NopBigCqe {
    /// A 16-byte CQE, as a plain NOP posts (a 32-byte one of zeros on a
    /// [`Cqe32`](crate::Cqe32) ring).
    pub const NONE: NopBigCqe = NopBigCqe(None);
}

impl From<[u64; 2]> for NopBigCqe {
    fn from(words: [u64; 2]) -> NopBigCqe {
        NopBigCqe(Some(words))
    }
}

// SAFETY: two numbers the kernel copies into the CQE, and a flag.
unsafe impl SqeField<(u64, u64, u32)> for NopBigCqe {
    #[inline(always)]
    fn into_field(self) -> (u64, u64, u32) {
        match self.0 {
            Some([a, b]) => (a, b, sys::IORING_NOP_CQE32),
            None => (0, 0, 0),
        }
    }
}
