//! Buffers of a provided-buffer ring that the reactor owns, claimed from
//! completions and owned by the program until dropped.

use crate::buf_ring::BufRing;
use crate::cqueue::Cqe;
use crate::reactor::buf::{IoBuf, IoBufMut};
use crate::types::BufferGroup;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// A provided-buffer ring registered with a reactor
/// ([`Handle::register_buf_ring`](crate::reactor::Handle::register_buf_ring)):
/// ops that receive into it name it, and the kernel picks one of its
/// buffers for each completion, which arrives as a [`RingBuf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufGroup {
    pub(crate) group: BufferGroup,
    pub(crate) len: u32,
}

impl BufGroup {
    /// The group's id.
    pub fn group(&self) -> BufferGroup {
        self.group
    }

    /// The length of each buffer.
    pub fn buf_len(&self) -> u32 {
        self.len
    }
}

/// A buffer of a reactor's provided-buffer ring, filled by a receive: the
/// bytes the kernel wrote, owned by the program.
///
/// It can be read and changed in place, and given to a send as it is (it is
/// an [`IoBuf`]): an echo needs no copy. Dropping it gives the buffer back
/// to the kernel.
pub struct RingBuf {
    ring: Rc<BufRing>,
    /// The buffer's id (bits 32 to 47) and the bytes received (the low 32
    /// bits), in one word: a pointer and a word, the value (and an
    /// `Option` of it) is passed in two registers.
    meta: u64,
}

impl RingBuf {
    /// The bytes received.
    #[inline(always)]
    fn len(&self) -> u32 {
        self.meta as u32
    }

    /// Sets the bytes received.
    #[inline(always)]
    fn set_len(&mut self, len: u32) {
        self.meta = self.meta & !u64::from(u32::MAX) | u64::from(len);
    }

    /// The buffer a completion of the reactor names, claimed from `ring`.
    ///
    /// # Safety
    ///
    /// As for [`BufRing::claim_unchecked`]: `cqe` was posted by the kernel,
    /// on the ring that registered `ring`, for an op that selected from its
    /// group.
    pub(crate) unsafe fn claim(ring: &Rc<BufRing>, cqe: &Cqe) -> Option<RingBuf> {
        // SAFETY: forwarded from the caller.
        let buf = unsafe { ring.claim_unchecked(cqe) }.ok()?;
        let (bid, len) = (buf.bid(), buf.len() as u32);
        // The claim is kept by this value instead, which gives the buffer
        // back when dropped.
        std::mem::forget(buf);
        Some(RingBuf {
            ring: Rc::clone(ring),
            meta: u64::from(bid) << 32 | u64::from(len),
        })
    }

    /// The buffer's id in its ring.
    pub fn bid(&self) -> u16 {
        (self.meta >> 32) as u16
    }

    /// The whole buffer's size, beyond the bytes received.
    pub fn capacity(&self) -> usize {
        self.ring.buf_len() as usize
    }

    /// Shortens the bytes to `len` (no effect if longer).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() as usize {
            // Fits: shorter than a length that is a u32.
            self.set_len(len as u32);
        }
    }
}

impl Deref for RingBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the buffer is claimed by this value alone until it is
        // dropped; the kernel is done with it (the claim's contract), and
        // `len` is at most the buffer's length.
        unsafe { std::slice::from_raw_parts(self.ring.buffer(self.bid()), self.len() as usize) }
    }
}

impl DerefMut for RingBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ring.buffer(self.bid()), self.len() as usize) }
    }
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        // The claim this value kept ends: the buffer goes back.
        self.ring.unlend(self.bid());
    }
}

impl fmt::Debug for RingBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuf")
            .field("bid", &self.bid())
            .field("len", &self.len())
            .finish()
    }
}

// SAFETY: the buffer's memory belongs to the ring, which this value keeps
// alive; the buffer is out of the kernel's hands until this value drops, and
// neither moves nor changes while the value is not accessed mutably.
unsafe impl IoBuf for RingBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ring.buffer(self.bid())
    }
    fn bytes_init(&self) -> usize {
        self.len() as usize
    }
}

/// Read into, a `RingBuf`'s length becomes the byte count: what the read
/// wrote, and no more (a `Vec`'s only grows, keeping what it held past
/// the count). A read at the end of the stream (0 bytes) empties it.
// SAFETY: as for `IoBuf`; the whole buffer is initialised (the ring's
// memory is zeroed at allocation).
unsafe impl IoBufMut for RingBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ring.buffer(self.bid())
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        self.set_len(n.min(self.capacity()) as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BufferGroup, Ring};
    use std::io::Write as _;

    /// A `RingBuf` holds its buffer's one lending while it lives, and its
    /// drop ends it: the ring counts nothing lent afterwards, however many
    /// times the buffer went round.
    #[test]
    fn a_ring_buf_s_drop_ends_its_lending() {
        let mut ring = Ring::new(4).unwrap();
        let pool = match ring.register_buf_ring(BufferGroup::new(3), 1, 8) {
            Ok(pool) => Rc::new(pool),
            Err(e) => return eprintln!("skipped: no provided-buffer rings: {e}"),
        };
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
        for round in 0..3u8 {
            tx.write_all(&[round; 2]).unwrap();
            let recv = crate::ops::Recv::new(&rx, pool.select()).user_data(7);
            // SAFETY: the receive borrows the socket, which outlives its
            // completion (read below), and selects from the pool.
            unsafe { ring.push_unchecked(recv) }.unwrap();
            ring.submit_and_wait(1).unwrap();
            let cqe = ring.completions().next().unwrap();
            assert_eq!(cqe.res(), 2);
            // SAFETY: the kernel posted it for the receive above.
            let buf = unsafe { RingBuf::claim(&pool, &cqe) }.unwrap();
            assert_eq!(&buf[..], [round; 2]);
            assert_eq!(pool.lent(), 1);
            drop(buf);
            assert_eq!(pool.lent(), 0, "round {round}");
        }
    }
}
