//! How argument values become SQE field values.

use crate::sys;
use crate::types::{BufferGroup, BufferPool, BufferSelect, SockAddr, SockAddrBuf};

/// A value an op argument stores, written into an SQE field of type `F` (or
/// into several fields when `F` is a tuple: `(u64, u32)` for `addr + len`).
///
/// # Safety
///
/// If the value is, or contains, an address the kernel will dereference, the
/// memory behind it must be borrowed by `Self` for as long as `Self` lives:
/// integers are fine, references are fine, raw pointers are not.
///
/// A slice (`&[T]`, `&mut [T]`) fills `len` with its count of `T`s: the
/// unit the kernel reads `len` in must be that (bytes for `[u8]`, entries
/// for an array of iovecs), and a slice the kernel writes into must be an
/// exclusive borrow (`&mut [T]`: the kernel's write through a `&[T]` would
/// change memory others may be reading) of a `T` that any bytes are a
/// valid value of (`u8`, the integers, `epoll_event`), as an op's table
/// entry vouches.
pub unsafe trait SqeField<F> {
    /// The field value.
    fn into_field(self) -> F;

    /// Whether the value may go to the ring with id `ring`: a value that
    /// names a slot of one ring's registered-file table fits that ring
    /// alone. Anything else fits every ring.
    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        let _ = ring;
        true
    }
}

macro_rules! same_width {
    ($($from:ty => $to:ty),* $(,)?) => {$(
        // SAFETY: plain integers carry no address.
        unsafe impl SqeField<$to> for $from {
            #[inline(always)]
            fn into_field(self) -> $to {
                self as $to
            }
        }
    )*};
}

same_width! {
    u64 => u64,
    i64 => u64,
    u32 => u64,
    u32 => u32,
    i32 => u32,
    i32 => i32,
    u32 => i32,
    u16 => u16,
    u16 => u32,
    u16 => u64,
    u8 => u8,
    u8 => u16,
    u8 => u32,
}

// SAFETY: an integer is not an address. A 64-bit field that carries an
// `int` (a socket type, a descriptor) is read by the kernel from its low
// half; the value is sign-extended, as C converts an `int` to `__u64`, so
// the SQE has liburing's bytes.
unsafe impl SqeField<u64> for i32 {
    #[inline(always)]
    fn into_field(self) -> u64 {
        i64::from(self) as u64
    }
}

// SAFETY: a length is not an address. A length written to a 32-bit field
// and, when it does not fit, to a 64-bit one instead (FADVISE since 6.7
// reads `addr` and falls back to `len` when it is zero; older kernels
// refuse a non-zero `addr`, so it stays zero when it can).
unsafe impl SqeField<(u64, u32)> for u64 {
    #[inline(always)]
    fn into_field(self) -> (u64, u32) {
        match u32::try_from(self) {
            Ok(short) => (0, short),
            Err(_) => (self, 0),
        }
    }
}

// SAFETY: a length is not an address.
unsafe impl SqeField<u64> for usize {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self as u64
    }
}

// SAFETY: a flag is not an address.
unsafe impl SqeField<u32> for bool {
    #[inline(always)]
    fn into_field(self) -> u32 {
        self as u32
    }
}

#[inline(always)]
fn slice_parts<T>(ptr: *const T, len: usize) -> (u64, u32) {
    (ptr as u64, u32::try_from(len).unwrap_or(u32::MAX))
}

// SAFETY: the address is that of a slice borrowed for the lifetime of the
// reference, which the op carries; a length beyond `u32::MAX` is clamped,
// which only shortens what the kernel touches.
// The length is the slice's count of `T`s, which for a `T` of at least one
// byte is at most its count of bytes; a slice of zero-sized values, which
// borrows no byte at all, is refused at compile time.
unsafe impl<T> SqeField<(u64, u32)> for &[T] {
    #[inline(always)]
    fn into_field(self) -> (u64, u32) {
        const {
            assert!(
                size_of::<T>() != 0,
                "a slice of zero-sized items borrows no memory for the kernel: give the op bytes, or items of at least one byte"
            )
        };
        slice_parts(self.as_ptr(), self.len())
    }
}

// SAFETY: as for `&[T]`, with the exclusive borrow the kernel's writes need.
unsafe impl<T> SqeField<(u64, u32)> for &mut [T] {
    #[inline(always)]
    fn into_field(self) -> (u64, u32) {
        const {
            assert!(
                size_of::<T>() != 0,
                "a slice of zero-sized items borrows no memory for the kernel: give the op bytes, or items of at least one byte"
            )
        };
        slice_parts(self.as_mut_ptr(), self.len())
    }
}

// SAFETY: the address of a NUL-terminated string borrowed for the lifetime
// of the reference.
unsafe impl SqeField<u64> for &std::ffi::CStr {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self.as_ptr() as u64
    }
}

// SAFETY: the address of a borrowed value, with its size.
unsafe impl SqeField<(u64, u64)> for &SockAddr {
    #[inline(always)]
    fn into_field(self) -> (u64, u64) {
        (self.as_ptr() as u64, u64::from(self.len()))
    }
}

// SAFETY: `addr` and `addr2` of ACCEPT: the storage and its length word, both
// borrowed exclusively (the kernel writes them); `None` is two nulls.
unsafe impl SqeField<(u64, u64)> for Option<&mut SockAddrBuf> {
    #[inline(always)]
    fn into_field(self) -> (u64, u64) {
        match self {
            Some(buf) => {
                let (storage, len) = buf.as_out_ptrs();
                (storage as u64, len as u64)
            }
            None => (0, 0),
        }
    }
}

// SAFETY: the storage and its length word of an address the kernel writes,
// both borrowed exclusively (GETSOCKNAME's `addr` and `addr3`).
unsafe impl SqeField<(u64, u64)> for &mut SockAddrBuf {
    #[inline(always)]
    fn into_field(self) -> (u64, u64) {
        let (storage, len) = self.as_out_ptrs();
        (storage as u64, len as u64)
    }
}

// SAFETY: a registered file's slot index is not an address; the file is one
// of the ring the op is pushed to (checked by `fits_ring`), borrowed through
// its registration for the op's lifetime (MSG_RING's source, in `addr3`).
unsafe impl SqeField<u64> for crate::types::Fixed<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        u64::from(self.index())
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        crate::types::Target::fits_ring(self, ring)
    }
}

// SAFETY: PROVIDE_BUFFERS reads `addr` (start), `len` (size of each buffer)
// and `fd` (count); the region is borrowed mutably by the pool.
unsafe impl SqeField<(u64, u32, i32)> for BufferPool<'_> {
    #[inline(always)]
    fn into_field(self) -> (u64, u32, i32) {
        (self.addr(), self.buf_len(), self.count() as i32)
    }
}

// SAFETY: a group id is not an address.
unsafe impl SqeField<u16> for BufferGroup {
    #[inline(always)]
    fn into_field(self) -> u16 {
        self.id()
    }
}

/// A buffer argument that a provided-buffer selection may replace: either the
/// buffer itself (`Buf`, or a type that borrows the same bytes) or a
/// [`BufferSelect`].
///
/// # Safety
///
/// `into_parts` returns `(addr, len, buf_group, flags)`; a non-zero `addr`
/// must point to `len` bytes borrowed exclusively for the lifetime of `Self`,
/// and `flags` may only be `IOSQE_BUFFER_SELECT` or 0.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a buffer for this op nor a `BufferSelect`",
    label = "expected `{Buf}` or a provided-buffer selection",
    note = "pass a `{Buf}` (an op the kernel writes into takes `&mut [u8]`, one it reads takes `&[u8]` or `&mut [u8]`), or `group.select(len)` to let the kernel pick a provided buffer"
)]
pub unsafe trait SelectBuffer<Buf> {
    /// `(addr, len, buf_group, IOSQE_BUFFER_SELECT or 0)`.
    fn into_parts(self) -> (u64, u32, u16, u8);
}

// SAFETY: the slice is borrowed exclusively for `'a`, which the op carries.
unsafe impl<'a> SelectBuffer<&'a mut [u8]> for &'a mut [u8] {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_mut_ptr(), self.len());
        (addr, len, 0, 0)
    }
}

// SAFETY: the vector's bytes are borrowed exclusively for `'a`; they cannot
// move or be freed while the vector is borrowed.
unsafe impl<'a> SelectBuffer<&'a mut [u8]> for &'a mut Vec<u8> {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_mut_ptr(), self.len());
        (addr, len, 0, 0)
    }
}

// SAFETY: the array is borrowed exclusively for `'a`.
unsafe impl<'a, const N: usize> SelectBuffer<&'a mut [u8]> for &'a mut [u8; N] {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_mut_ptr(), N);
        (addr, len, 0, 0)
    }
}

// SAFETY: the slice is borrowed for `'a`; the kernel only reads it (a send).
unsafe impl<'a> SelectBuffer<&'a [u8]> for &'a [u8] {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_ptr(), self.len());
        (addr, len, 0, 0)
    }
}

// SAFETY: the slice is borrowed exclusively for `'a`; the kernel only
// reads it (a send of a buffer lent mutably, such as `push_owned`'s).
unsafe impl<'a> SelectBuffer<&'a [u8]> for &'a mut [u8] {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_ptr(), self.len());
        (addr, len, 0, 0)
    }
}

// SAFETY: as above.
unsafe impl<'a, const N: usize> SelectBuffer<&'a [u8]> for &'a [u8; N] {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_ptr(), N);
        (addr, len, 0, 0)
    }
}

// SAFETY: as above; the vector cannot change while borrowed.
unsafe impl<'a> SelectBuffer<&'a [u8]> for &'a Vec<u8> {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_ptr(), self.len());
        (addr, len, 0, 0)
    }
}

// SAFETY: the slice is borrowed exclusively for `'a`; the kernel writes
// its bytes, which need not be initialised before.
unsafe impl<'a> SelectBuffer<&'a mut [u8]> for &'a mut [std::mem::MaybeUninit<u8>] {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        let (addr, len) = slice_parts(self.as_mut_ptr(), self.len());
        (addr, len, 0, 0)
    }
}

// SAFETY: a selection passes no address; the kernel picks a buffer that was
// provided to the group.
unsafe impl<Buf> SelectBuffer<Buf> for BufferSelect {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        (0, self.len(), self.group().id(), sys::IOSQE_BUFFER_SELECT)
    }
}
