//! The iovec of a vectored read that selects a provided buffer
//! (`ReadVSelect`): the kernel reads its length, never its base.

use crate::op::SqeField;

// SAFETY: the address of an iovec borrowed for the op's lifetime, which
// the kernel reads (16 bytes). The one entry fed from it, READV with
// `IOSQE_BUFFER_SELECT`, copies the iovec when it takes the SQE and keeps
// only `iov_len`, the most it reads into the buffer it picks; `iov_base` is
// neither read through nor written (through 6.18, and on every kernel
// since 5.7, which added the form), so it may hold any value. No entry
// whose kernel code uses the base may take a `&libc::iovec`: nothing here
// borrows the memory it points at.
unsafe impl SqeField<u64> for &libc::iovec {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self as *const libc::iovec as u64
    }
}

#[cfg(feature = "arbitrary-ops")]
impl<'r> crate::op::arbitrary::Arbitrary<'r> for &'r libc::iovec {
    fn arbitrary<C: crate::op::arbitrary::Context<'r>>(
        g: &mut crate::op::arbitrary::Gen,
        cx: &mut C,
        site: &crate::op::arbitrary::Site,
    ) -> Option<Self> {
        // Any base, as the kernel never uses it: null, a stray address, or
        // one of the context's buffers.
        let base = match g.below(3) {
            0 => std::ptr::null_mut(),
            1 => std::ptr::without_provenance_mut(g.next_u64() as usize),
            _ => cx.bytes(site, 8).as_mut_ptr().cast(),
        };
        let len = match g.below(4) {
            0 => 0,
            1 => usize::MAX,
            _ => g.below(1 << 17) as usize,
        };
        Some(cx.keep(libc::iovec {
            iov_base: base,
            iov_len: len,
        }))
    }
}
