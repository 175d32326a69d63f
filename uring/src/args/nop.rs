//! What a NOP can be asked to complete with.

use super::FixedBuf;
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

/// A registered buffer a NOP looks up (`IORING_NOP_FIXED_BUFFER`, 6.13),
/// as an op that uses it would: when the ring's table has no buffer at
/// that index, the NOP fails, and what is linked after it is cancelled
/// (Linux 6.18 completes it with `-EFAULT`; the first kernels with the
/// flag post its own result, 0 unless injected). The kernel reads or
/// writes none of the buffer's memory, and keeps the buffer registered
/// until the NOP completes. Made from a [`FixedBuf`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NopBuffer(Option<FixedBuf>);

impl NopBuffer {
    /// No buffer, as a plain NOP.
    pub const NONE: NopBuffer = NopBuffer(None);
}

impl From<FixedBuf> for NopBuffer {
    fn from(buf: FixedBuf) -> NopBuffer {
        NopBuffer(Some(buf))
    }
}

// SAFETY: an index into the registered-buffer table, which the kernel
// looks up without touching the buffer's memory, and a flag.
unsafe impl SqeField<(u16, u32)> for NopBuffer {
    #[inline(always)]
    fn into_field(self) -> (u16, u32) {
        match self.0 {
            Some(buf) => (buf.index(), sys::IORING_NOP_FIXED_BUFFER),
            None => (0, 0),
        }
    }
}

/// Whether a NOP posts its completion through task work, as ops that
/// finish in another context do, rather than inline (`IORING_NOP_TW`,
/// 6.17; earlier kernels fail the NOP with `EINVAL`). Made from a `bool`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NopTaskWork(bool);

impl NopTaskWork {
    /// Completes inline, as a plain NOP does.
    pub const NONE: NopTaskWork = NopTaskWork(false);
}

impl From<bool> for NopTaskWork {
    fn from(task_work: bool) -> NopTaskWork {
        NopTaskWork(task_work)
    }
}

// SAFETY: a flag is not an address.
unsafe impl SqeField<u32> for NopTaskWork {
    #[inline(always)]
    fn into_field(self) -> u32 {
        if self.0 { sys::IORING_NOP_TW } else { 0 }
    }
}

#[cfg(feature = "arbitrary-ops")]
mod arbitrary {
    use super::{NopBuffer, NopTaskWork};
    use crate::op::arbitrary::{Arbitrary, Context, Gen, Site};

    impl<'r> Arbitrary<'r> for NopBuffer {
        /// A registered buffer of the context, or none.
        fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
            Some(match g.bool() {
                true => NopBuffer::NONE,
                false => cx
                    .fixed_buf(site, g)
                    .map_or(NopBuffer::NONE, NopBuffer::from),
            })
        }
    }

    impl<'r> Arbitrary<'r> for NopTaskWork {
        fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
            Some(NopTaskWork::from(bool::arbitrary(g, cx, site)?))
        }
    }
}
