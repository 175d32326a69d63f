//! Owned memory an op can be given: bytes the kernel reads ([`IoBuf`]) and
//! bytes it writes ([`IoBufMut`]).

use std::ops::{Bound, RangeBounds};

/// Owned bytes the kernel may read while an op is in flight: what a write
/// or a send takes.
///
/// The reactor keeps the value, unmoved and untouched, from the op's
/// submission to its last completion, then hands it back.
///
/// # Safety
///
/// While the value is neither moved nor accessed through `&mut`, the
/// `bytes_init()` bytes at `stable_ptr()` must stay allocated, initialised
/// and unchanged, and the answers of both methods must not change.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not owned memory a reactor op can keep while the kernel reads it",
    label = "not an owned buffer",
    note = "give the op an owned buffer (`Vec<u8>`, `Box<[u8]>`, `String`, a `RingBuf`, a `FixedBuffer`, a `&'static [u8]`, or a `Slice` of one) and take it back with the completion",
    note = "to lend a borrowed buffer to the kernel, push a ring op (`uring::ops`) in a `Ring::scope`"
)]
pub unsafe trait IoBuf: 'static {
    /// The first byte.
    fn stable_ptr(&self) -> *const u8;

    /// How many bytes, from the first, hold data: what a write sends.
    fn bytes_init(&self) -> usize;

    /// The bytes a write sends, `bytes_init()` of them.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: the trait's contract: `bytes_init` initialised bytes at
        // `stable_ptr`, borrowed with `self`.
        unsafe { std::slice::from_raw_parts(self.stable_ptr(), self.bytes_init()) }
    }

    /// A view of `range` of the initialised bytes, which owns the buffer
    /// and gives it back with [`Slice::into_inner`]: how a part of a buffer
    /// is written without a copy.
    ///
    /// Out-of-range bounds are clamped to the initialised bytes.
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let len = self.bytes_init();
        let (begin, end) = clamp(range, len, len);
        Slice {
            buf: self,
            begin,
            end,
        }
    }
}

/// Owned bytes the kernel may write while an op is in flight: what a read
/// or a receive fills, from its first byte.
///
/// # Safety
///
/// As for [`IoBuf`], for `bytes_total()` bytes at `stable_mut_ptr()`, which
/// the kernel may write; `set_init(n)` may rely on the first `n` bytes
/// having been written.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not owned memory a reactor op can keep while the kernel writes into it",
    label = "not an owned, writable buffer",
    note = "give the op an owned buffer (`Vec<u8>` with the capacity to fill, `Box<[u8]>`, a `RingBuf`, a `FixedBuffer`) and take it back, filled, with the completion",
    note = "to lend a borrowed buffer to the kernel, push a ring op (`uring::ops`) in a `Ring::scope`"
)]
pub unsafe trait IoBufMut: IoBuf {
    /// The first byte.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// How many bytes a read may fill.
    fn bytes_total(&self) -> usize;

    /// Records that the first `n` bytes are initialised (a read wrote
    /// them); `n <= bytes_total()`.
    ///
    /// # Safety
    ///
    /// The first `n` bytes must be initialised.
    unsafe fn set_init(&mut self, n: usize);

    /// A view of `range` of the bytes a read may fill, which owns the
    /// buffer and gives it back with [`SliceMut::into_inner`]: how a read
    /// fills the rest of a buffer a short read left (a read into it fills
    /// from its start, and counts as a read into the buffer from there).
    ///
    /// The range begins at most at the initialised bytes' end (no byte
    /// before the range is left unwritten), and ends at most at
    /// [`bytes_total`](Self::bytes_total): out-of-range bounds are
    /// clamped.
    fn slice_mut(self, range: impl RangeBounds<usize>) -> SliceMut<Self>
    where
        Self: Sized,
    {
        let total = self.bytes_total();
        let (begin, end) = clamp(range, self.bytes_init().min(total), total);
        SliceMut {
            buf: self,
            begin,
            end,
        }
    }
}

// SAFETY: a vector's heap bytes do not move with the vector, and do not
// change while it is neither accessed mutably nor dropped.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `IoBuf`; a read fills the whole capacity, and `set_init`
// sets the length.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        if n > self.len() {
            // SAFETY: the caller says the first `n <= capacity` bytes are
            // initialised.
            unsafe { self.set_len(n) }
        }
    }
}

// SAFETY: a boxed slice's bytes do not move with the box.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: every byte of a boxed slice is initialised already.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
    unsafe fn set_init(&mut self, _: usize) {}
}

// SAFETY: static bytes never move nor change (they are shared, so nobody
// writes them).
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `&'static [u8]`.
unsafe impl<const N: usize> IoBuf for &'static [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
}

// SAFETY: as for `&'static [u8]`.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: a string's heap bytes do not move with it.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

/// `range` as a start at most `begin_max` and an end from the start to
/// `end_max` (`begin_max <= end_max`); an open end is `end_max`.
fn clamp(range: impl RangeBounds<usize>, begin_max: usize, end_max: usize) -> (usize, usize) {
    let begin = match range.start_bound() {
        Bound::Included(&n) => n,
        Bound::Excluded(&n) => n.saturating_add(1),
        Bound::Unbounded => 0,
    }
    .min(begin_max);
    let end = match range.end_bound() {
        Bound::Included(&n) => n.saturating_add(1),
        Bound::Excluded(&n) => n,
        Bound::Unbounded => end_max,
    }
    .clamp(begin, end_max);
    (begin, end)
}

/// The accessors a range of an owned buffer has.
macro_rules! range_accessors {
    ($name:ident) => {
        impl<B> $name<B> {
            /// The whole buffer, back.
            pub fn into_inner(self) -> B {
                self.buf
            }

            /// The buffer.
            pub fn get_ref(&self) -> &B {
                &self.buf
            }

            /// Where the range begins in the buffer.
            pub fn begin(&self) -> usize {
                self.begin
            }

            /// Where the range ends in the buffer.
            pub fn end(&self) -> usize {
                self.end
            }
        }
    };
}

/// A range of an owned buffer, from [`IoBuf::slice`]: writes send only
/// that range; [`into_inner`](Slice::into_inner) gives the buffer back.
#[derive(Debug)]
pub struct Slice<B> {
    buf: B,
    begin: usize,
    end: usize,
}

range_accessors!(Slice);

// SAFETY: the range lies within the buffer's initialised bytes (clamped at
// creation), which the buffer keeps stable.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: `begin <= bytes_init`, inside or one past the bytes.
        unsafe { self.buf.stable_ptr().add(self.begin) }
    }
    fn bytes_init(&self) -> usize {
        self.end - self.begin
    }
}

/// A range of an owned buffer a read may fill, from
/// [`IoBufMut::slice_mut`]: a read fills it from its start, and the
/// buffer's initialised bytes then reach as far as the read did;
/// [`into_inner`](SliceMut::into_inner) gives the buffer back.
#[derive(Debug)]
pub struct SliceMut<B> {
    buf: B,
    begin: usize,
    end: usize,
}

range_accessors!(SliceMut);

// SAFETY: the range's initialised bytes are the buffer's from `begin` up
// to `end`; the buffer keeps them stable.
unsafe impl<B: IoBufMut> IoBuf for SliceMut<B> {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: `begin <= bytes_total`, inside or one past the bytes.
        unsafe { self.buf.stable_ptr().add(self.begin) }
    }
    fn bytes_init(&self) -> usize {
        self.buf
            .bytes_init()
            .min(self.end)
            .saturating_sub(self.begin)
    }
}

// SAFETY: the range lies within the buffer's `bytes_total` (clamped at
// creation), which the kernel may write; `set_init(n)` marks the buffer
// initialised up to `begin + n`, whose bytes before `begin` were
// initialised at creation (`begin <= bytes_init` then; while the slice
// owns the buffer, only its own `set_init` changes that count, never to
// less than `begin`) and whose `n` from `begin` the caller vouches for.
unsafe impl<B: IoBufMut> IoBufMut for SliceMut<B> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: as for `stable_ptr`.
        unsafe { self.buf.stable_mut_ptr().add(self.begin) }
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
    unsafe fn set_init(&mut self, n: usize) {
        // SAFETY: see the impl's comment; `begin + n <= end <=
        // bytes_total`.
        unsafe { self.buf.set_init(self.begin + n) }
    }
}

/// Fills all of `buf` (its [`bytes_total`](IoBufMut::bytes_total) bytes,
/// from its start) through `read`, which is given the rest of it (a
/// [`SliceMut`] from the first byte not yet filled) and how many bytes
/// went before, and answers with a count and the slice: again after a
/// short count, until every byte came. A count of 0 before the end fails
/// with [`UnexpectedEof`](std::io::ErrorKind::UnexpectedEof), with the
/// bytes that came kept in the buffer; an error ends it. The buffer comes
/// back either way.
pub(crate) async fn read_exact<B, F, Fut>(buf: B, mut read: F) -> (std::io::Result<()>, B)
where
    B: IoBufMut,
    F: FnMut(SliceMut<B>, usize) -> Fut,
    Fut: std::future::Future<Output = (std::io::Result<usize>, SliceMut<B>)>,
{
    let total = buf.bytes_total();
    let mut done = 0;
    let mut buf = buf;
    while done < total {
        // `done` bytes from the start were filled, so the slice begins at
        // `done` (the buffer's initialised bytes reach at least that far).
        let (result, slice) = read(buf.slice_mut(done..), done).await;
        buf = slice.into_inner();
        match result {
            Ok(0) => return (Err(std::io::ErrorKind::UnexpectedEof.into()), buf),
            Ok(n) => done += n,
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

/// Writes all of `buf` through `write`, which is given the rest of it (a
/// [`Slice`] from the first byte not yet written) and how many bytes went
/// before, and answers with a count and the slice: again after a short
/// count, until every byte went. A count of 0 before the end fails with
/// [`WriteZero`](std::io::ErrorKind::WriteZero); an error ends it. The
/// buffer comes back either way. An empty buffer is given to `write`
/// once.
pub(crate) async fn write_all<B, F, Fut>(buf: B, mut write: F) -> (std::io::Result<()>, B)
where
    B: IoBuf,
    F: FnMut(Slice<B>, usize) -> Fut,
    Fut: std::future::Future<Output = (std::io::Result<usize>, Slice<B>)>,
{
    let total = buf.bytes_init();
    let (mut result, mut slice) = write(buf.slice(..), 0).await;
    let mut done = 0;
    loop {
        match result {
            Ok(0) if done < total => {
                return (
                    Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                    slice.into_inner(),
                );
            }
            Ok(n) => {
                done += n;
                if done >= total {
                    return (Ok(()), slice.into_inner());
                }
            }
            Err(e) => return (Err(e), slice.into_inner()),
        }
        (result, slice) = write(slice.into_inner().slice(done..), done).await;
    }
}

#[cfg(test)]
mod tests {
    use super::IoBuf;

    #[test]
    fn slices_clamp_to_the_initialised_bytes() {
        let s = b"hello world".to_vec().slice(6..);
        assert_eq!(s.as_bytes(), b"world");
        let s = b"abc".to_vec().slice(1..=7);
        assert_eq!(s.as_bytes(), b"bc");
        let s = b"abc".to_vec().slice(5..9);
        assert_eq!(s.as_bytes(), b"");
        assert_eq!(s.into_inner(), b"abc");
    }
}
