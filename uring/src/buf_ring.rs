//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`, 5.19): a pool of
//! buffers the kernel picks from for ops that select a buffer, handed back
//! to the kernel by user space through a ring of buffer descriptors.

use crate::cqueue::Cqe;
use crate::error::{Error, Result};
use crate::ring::Ring;
use crate::scope::ScopeCqe;
use crate::sys::{self, io_uring_buf};
use crate::types::{BufferGroup, BufferSelect};
use std::cell::Cell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// The most buffers a ring holds: the kernel takes up to 32768 entries, and
/// the ring keeps twice its buffer count of positions unambiguous in 16 bits.
pub const MAX_BUF_RING_BUFFERS: u16 = 32767;

/// Where a buffer is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// In the ring, or taken by the kernel for an op whose completion has
    /// not been claimed.
    Kernel,
    /// Claimed: a [`Buf`] holds it.
    Lent,
}

/// A provided-buffer ring: `count` buffers of `len` bytes, allocated and
/// owned by this value, which the kernel picks from for ops that select a
/// buffer of its [`group`](BufRing::group) on the ring that registered it.
///
/// An op's completion names the buffer it filled; [`claim`](BufRing::claim)
/// turns it into a [`Buf`], which gives the bytes back to the ring when
/// dropped. When the ring runs dry, ops that select from it fail with
/// `ENOBUFS`.
///
/// The `BufRing` keeps a duplicate of the ring's descriptor, so the kernel
/// ring lives as long as it does. Dropping it unregisters the group and
/// releases the memory, keeping its addresses reserved: an op still in
/// flight that picked one of its buffers fails with `EFAULT` instead of
/// writing into memory that has been reused.
pub struct BufRing {
    fd: OwnedFd,
    /// The id of the ring that registered it.
    ring: u64,
    group: BufferGroup,
    /// The descriptors, `entries` of them (a power of two), the tail in the
    /// first one's last two bytes.
    descs: NonNull<io_uring_buf>,
    mask: u16,
    /// The buffers, one per `state` entry, of `len` bytes.
    bufs: NonNull<u8>,
    len: u32,
    tail: Cell<u16>,
    state: Box<[Cell<State>]>,
}

// SAFETY: the ring owns its memory and descriptor; the cells make it !Sync,
// and a `Buf` borrows it, so it moves between threads only with no buffer
// out.
unsafe impl Send for BufRing {}

impl Ring {
    /// Registers a provided-buffer ring of `count` buffers of `len` bytes
    /// each under `group`, allocated by the library and all handed to the
    /// kernel (`IORING_REGISTER_PBUF_RING`, 5.19).
    ///
    /// `count` is 1 to [`MAX_BUF_RING_BUFFERS`]; `len` is at least 1 and
    /// `count * len` fits in memory. The kernel refuses a group that already
    /// has buffers (`EEXIST`).
    pub fn register_buf_ring(
        &mut self,
        group: BufferGroup,
        count: u16,
        len: u32,
    ) -> Result<BufRing> {
        if count == 0 || count > MAX_BUF_RING_BUFFERS || len == 0 {
            return Err(Error::InvalidArgument(format!(
                "a buffer ring takes 1 to {MAX_BUF_RING_BUFFERS} buffers of at least 1 byte \
                 (count {count}, len {len})"
            )));
        }
        let entries = count.next_power_of_two();
        let descs_len = usize::from(entries) * std::mem::size_of::<io_uring_buf>();
        let bufs_len = usize::from(count)
            .checked_mul(len as usize)
            .ok_or_else(|| Error::InvalidArgument("count * len overflows".into()))?;
        let fd = self
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::os("fcntl(F_DUPFD_CLOEXEC)", e))?;
        let descs = Anon::new(descs_len)?;
        let bufs = Anon::new(bufs_len)?;
        let reg = sys::io_uring_buf_reg {
            ring_addr: descs.ptr.as_ptr() as u64,
            ring_entries: u32::from(entries),
            bgid: group.id(),
            ..Default::default()
        };
        self.register(
            sys::IORING_REGISTER_PBUF_RING,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
            "IORING_REGISTER_PBUF_RING",
        )?;
        let ring = BufRing {
            fd,
            ring: self.id,
            group,
            descs: descs.keep().cast(),
            mask: entries - 1,
            bufs: bufs.keep(),
            len,
            tail: Cell::new(0),
            state: (0..count).map(|_| Cell::new(State::Lent)).collect(),
        };
        for bid in 0..count {
            ring.provide(bid);
        }
        Ok(ring)
    }
}

impl BufRing {
    /// The group ops select from.
    pub fn group(&self) -> BufferGroup {
        self.group
    }

    /// A selection of a whole buffer of this ring, for an op's buffer
    /// argument.
    pub fn select(&self) -> BufferSelect {
        BufferSelect::new(self.group, self.len)
    }

    /// The length of each buffer.
    pub fn buf_len(&self) -> u32 {
        self.len
    }

    /// How many buffers the ring has.
    pub fn count(&self) -> u16 {
        self.state.len() as u16
    }

    /// Buffers lent out as [`Buf`]s right now.
    pub fn lent(&self) -> u16 {
        self.state.iter().filter(|s| s.get() == State::Lent).count() as u16
    }

    /// The buffer that a scope op's completion names, with the `cqe.res()`
    /// bytes the op wrote; it goes back to the kernel when the [`Buf`] is
    /// dropped.
    ///
    /// A scope knows that the completions of its ops are the kernel's, and
    /// which group each op selected from, so this is safe. An error when
    /// `cqe` is not a scope op's, is of an op that selected from another
    /// group or ring, names no buffer, or has been claimed already.
    ///
    /// ```
    /// use std::io::Write as _;
    /// use std::os::unix::net::UnixStream;
    /// use uring::{BufferGroup, Ring, ops::Recv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// tx.write_all(b"picked by the kernel")?;
    /// let mut ring = Ring::new(8)?;
    /// let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 64)?;
    /// let got = ring.scope(|s| -> uring::Result<Vec<u8>> {
    ///     s.push(Recv::new(&rx, pool.select()))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     let buf = pool.claim(&mut cqe)?;
    ///     Ok(buf.to_vec())
    ///     // `buf` goes back to the kernel here.
    /// })?;
    /// assert_eq!(got, b"picked by the kernel");
    /// # Ok(())
    /// # }
    /// ```
    pub fn claim(&self, cqe: &mut ScopeCqe<'_>) -> Result<Buf<'_>> {
        let Some((ring, group)) = cqe.provenance() else {
            return Err(Error::InvalidArgument(
                "the completion is not of a scope op that selected a buffer, \
                 or its buffer was claimed already"
                    .into(),
            ));
        };
        if ring != self.ring || group != self.group.id() {
            return Err(Error::InvalidArgument(format!(
                "the op selected from group {group} of its ring, not from this one's"
            )));
        }
        // SAFETY: a scope settles only completions the kernel posted for its
        // ops (their tags carry its random key), this op selected from this
        // ring's group on the ring that registered it, and a completion's
        // buffer is claimed once (marked below).
        let buf = unsafe { self.claim_unchecked(cqe) }?;
        cqe.set_claimed();
        Ok(buf)
    }

    /// The buffer that `cqe`'s op filled, as [`claim`](BufRing::claim), for
    /// completions read outside a scope.
    ///
    /// An error when the completion names no buffer, a buffer this ring
    /// does not have, or one already claimed and not yet given back.
    ///
    /// # Safety
    ///
    /// `cqe` must be a completion the kernel posted, on the ring that
    /// registered this one, for an op that selected from this ring's group,
    /// and not claimed before: once that op has completed, the kernel is done
    /// with the buffer. (A completion made up by `MSG_RING` can name any
    /// buffer, including one an op in flight is filling.)
    pub unsafe fn claim_unchecked(&self, cqe: &Cqe) -> Result<Buf<'_>> {
        let bid = cqe
            .buffer_id()
            .ok_or_else(|| Error::InvalidArgument("the completion names no buffer".into()))?;
        let state = self.state.get(usize::from(bid)).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "buffer {bid} is not one of this ring's {}",
                self.count()
            ))
        })?;
        if state.get() == State::Lent {
            return Err(Error::InvalidArgument(format!(
                "buffer {bid} is claimed already"
            )));
        }
        state.set(State::Lent);
        let filled = u32::try_from(cqe.res()).unwrap_or(0).min(self.len);
        Ok(Buf {
            ring: self,
            bid,
            len: filled as usize,
        })
    }

    /// The `len` bytes of buffer `bid`.
    pub(crate) fn buffer(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < count`, so the offset is inside the buffers'
        // mapping.
        unsafe { self.bufs.as_ptr().add(usize::from(bid) * self.len as usize) }
    }

    /// The length of the descriptors' mapping.
    fn descs_len(&self) -> usize {
        (usize::from(self.mask) + 1) * std::mem::size_of::<io_uring_buf>()
    }

    /// The length of the buffers' mapping.
    fn bufs_len(&self) -> usize {
        self.state.len() * self.len as usize
    }

    /// Hands buffer `bid` to the kernel at the ring's tail.
    pub(crate) fn provide(&self, bid: u16) {
        let tail = self.tail.get();
        // SAFETY: the masked index is below `entries`, inside the mapping.
        let desc = unsafe { self.descs.as_ptr().add(usize::from(tail & self.mask)) };
        // SAFETY: the kernel reads descriptors from its head up to the
        // published tail only; this one is past the tail. Field by field,
        // so that the first descriptor's last bytes (the tail) stay as they
        // are.
        unsafe {
            (&raw mut (*desc).addr).write(self.buffer(bid) as u64);
            (&raw mut (*desc).len).write(self.len);
            (&raw mut (*desc).bid).write(bid);
        }
        self.state[usize::from(bid)].set(State::Kernel);
        let tail = tail.wrapping_add(1);
        self.tail.set(tail);
        // SAFETY: the tail is the `resv` field of the first descriptor, a
        // naturally aligned u16 in the mapping, which only user space
        // writes. Release: the descriptor is written before the kernel can
        // see it.
        unsafe {
            let at = &raw mut (*self.descs.as_ptr()).resv;
            AtomicU16::from_ptr(at).store(tail, Ordering::Release);
        }
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("group", &self.group)
            .field("count", &self.count())
            .field("buf_len", &self.len)
            .field("lent", &self.lent())
            .finish()
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        let reg = sys::io_uring_buf_reg {
            bgid: self.group.id(),
            ..Default::default()
        };
        // SAFETY: the argument is a valid `io_uring_buf_reg` alive for the
        // call, on our duplicate of the ring's descriptor.
        let unregistered = unsafe {
            sys::io_uring_register(
                self.fd.as_raw_fd(),
                sys::IORING_UNREGISTER_PBUF_RING,
                (&reg as *const sys::io_uring_buf_reg).cast(),
                1,
            )
        }
        .is_ok();
        // Unregistered, the kernel reads no more descriptors: their memory
        // goes (if the kernel refused, their addresses stay reserved too).
        // An op that picked a buffer before may still write to it, so the
        // buffers' addresses stay reserved, with no memory behind them.
        // SAFETY: both are this ring's own mappings, used by nothing in user
        // space now (a `Buf` borrows the ring, so none is left).
        unsafe {
            let descs = self.descs.as_ptr().cast();
            let _ = if unregistered {
                sys::munmap(descs, self.descs_len())
            } else {
                sys::reserve_address_range(descs, self.descs_len())
            };
            let _ = sys::reserve_address_range(self.bufs.as_ptr().cast(), self.bufs_len());
        }
    }
}

/// A buffer of a [`BufRing`], claimed from a completion: the bytes the op
/// wrote, readable and writable; dropping it gives the buffer back to the
/// kernel.
pub struct Buf<'a> {
    ring: &'a BufRing,
    bid: u16,
    len: usize,
}

impl Buf<'_> {
    /// The buffer id.
    pub fn bid(&self) -> u16 {
        self.bid
    }

    /// The whole buffer, beyond the bytes the op wrote.
    pub fn capacity(&self) -> usize {
        self.ring.len as usize
    }
}

impl Deref for Buf<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the buffer is lent to this `Buf` alone (its state is
        // `Lent` until the drop), the kernel is done with it (the claim's
        // contract), and `len <= buf_len`.
        unsafe { std::slice::from_raw_parts(self.ring.buffer(self.bid), self.len) }
    }
}

impl DerefMut for Buf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ring.buffer(self.bid), self.len) }
    }
}

impl Drop for Buf<'_> {
    fn drop(&mut self) {
        self.ring.provide(self.bid);
    }
}

impl fmt::Debug for Buf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("bid", &self.bid)
            .field("len", &self.len)
            .finish()
    }
}

/// An anonymous private mapping, unmapped on drop unless taken.
struct Anon {
    ptr: NonNull<u8>,
    len: usize,
}

impl Anon {
    fn new(len: usize) -> Result<Anon> {
        let ptr = sys::mmap_anonymous(len).map_err(|e| Error::os("mmap", e))?;
        let ptr = NonNull::new(ptr.cast()).ok_or(Error::Setup("mmap returned a null mapping"))?;
        Ok(Anon { ptr, len })
    }

    /// Keeps the mapping: its owner unmaps it.
    fn keep(self) -> NonNull<u8> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        // SAFETY: a mapping this value made and nothing else uses.
        let _ = unsafe { sys::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
