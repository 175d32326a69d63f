//! Protection information of a read or write: the metadata buffer the
//! kernel fills or checks beside the data, and what the device checks.

use std::fmt;
use std::marker::PhantomData;

use crate::sys;
use crate::types::IntegrityFlags;

/// The protection information (T10 PI) of one read or write, Linux 6.14's
/// `struct io_uring_attr_pi`: a metadata buffer, which a read fills with
/// the blocks' integrity tuples and a write takes them from, the checks
/// the device makes, the application tag and the first reference tag.
///
/// For `O_DIRECT` I/O on a block device formatted with protection
/// information; Linux 6.18 fails any other read or write that carries one
/// with `EINVAL`, touching neither buffer. A read or write takes it as
/// `.pi(&mut attr)`: the op borrows it, and through it the buffer, for as
/// long as the op lives, so the kernel copies the attribute and fills or
/// reads the buffer only while both are borrowed.
///
/// ```
/// use uring::{IntegrityFlags, PiAttr};
/// let mut meta = [0u8; 8]; // one 8-byte tuple per 512-byte block
/// let attr = PiAttr::new(&mut meta)
///     .flags(IntegrityFlags::GUARD | IntegrityFlags::REFTAG)
///     .seed(0);
/// assert_eq!(attr.raw().len, 8);
/// ```
#[repr(transparent)]
pub struct PiAttr<'a> {
    raw: sys::io_uring_attr_pi,
    /// The metadata buffer `raw.addr` points to, lent to the kernel.
    _meta: PhantomData<&'a mut [u8]>,
}

impl<'a> PiAttr<'a> {
    /// Protection information over the metadata buffer `meta`, with no
    /// check, an application tag and a seed of 0. A buffer of more than
    /// `u32::MAX` bytes is given as its first `u32::MAX`.
    pub fn new(meta: &'a mut [u8]) -> PiAttr<'a> {
        PiAttr {
            raw: sys::io_uring_attr_pi {
                flags: 0,
                app_tag: 0,
                len: u32::try_from(meta.len()).unwrap_or(u32::MAX),
                addr: meta.as_mut_ptr() as u64,
                seed: 0,
                rsvd: 0,
            },
            _meta: PhantomData,
        }
    }

    /// The checks the device makes.
    pub fn flags(mut self, flags: IntegrityFlags) -> PiAttr<'a> {
        self.raw.flags = flags.bits();
        self
    }

    /// The application tag the device checks (with
    /// [`IntegrityFlags::APPTAG`]).
    pub fn app_tag(mut self, tag: u16) -> PiAttr<'a> {
        self.raw.app_tag = tag;
        self
    }

    /// The reference tag of the first block, which the next blocks count
    /// on from (with [`IntegrityFlags::REFTAG`]).
    pub fn seed(mut self, seed: u64) -> PiAttr<'a> {
        self.raw.seed = seed;
        self
    }

    /// The attribute as the kernel reads it.
    pub fn raw(&self) -> &sys::io_uring_attr_pi {
        &self.raw
    }
}

impl fmt::Debug for PiAttr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiAttr")
            .field("flags", &IntegrityFlags::from_bits_truncate(self.raw.flags))
            .field("app_tag", &self.raw.app_tag)
            .field("len", &self.raw.len)
            .field("seed", &self.raw.seed)
            .finish_non_exhaustive()
    }
}

/// A read's or write's hold on a [`PiAttr`], or on none: what its `.pi()`
/// argument stores (`.pi(&mut attr)`). It borrows the attribute mutably,
/// and through it the metadata buffer, for `'a`, as the op borrows its
/// data buffer. Not `Clone`: one op at a time holds an attribute, as one
/// op at a time holds a buffer it reads into.
pub struct PiRef<'a> {
    /// The attribute's address, or 0 for none.
    addr: u64,
    _attr: PhantomData<&'a mut ()>,
}

impl PiRef<'_> {
    /// No protection information.
    pub const NONE: PiRef<'static> = PiRef {
        addr: 0,
        _attr: PhantomData,
    };
}

impl<'a, 'm: 'a> From<&'a mut PiAttr<'m>> for PiRef<'a> {
    fn from(attr: &'a mut PiAttr<'m>) -> PiRef<'a> {
        PiRef {
            addr: &attr.raw as *const sys::io_uring_attr_pi as u64,
            _attr: PhantomData,
        }
    }
}

impl fmt::Debug for PiRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.addr == 0 {
            f.write_str("PiRef::NONE")
        } else {
            write!(f, "PiRef({:#x})", self.addr)
        }
    }
}

// SAFETY: a `PiRef` other than `NONE` is made only from `&'a mut PiAttr`,
// and holds that borrow for `'a`: the kernel reads the attribute at its
// address, and the attribute points to the metadata buffer, which the
// `PiAttr` borrows mutably for at least as long (its fields are private,
// set only by `new` from that borrow). Both outlive every use the kernel
// makes of them, and no other op can be given either meanwhile. The mask
// names the one attribute whose layout this is.
unsafe impl crate::op::SqeField<(u64, u64)> for PiRef<'_> {
    #[inline(always)]
    fn into_field(self) -> (u64, u64) {
        if self.addr == 0 {
            (0, 0)
        } else {
            (self.addr, sys::IORING_RW_ATTR_FLAG_PI)
        }
    }
}
