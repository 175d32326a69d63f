//! Provided-buffer rings whose buffers the program places
//! (`IORING_REGISTER_PBUF_RING`, 5.19): the library owns the ring of buffer
//! descriptors, the program writes each descriptor (any address, any
//! length, any buffer id) and publishes them by moving the ring's tail.

use crate::buf_ring::{
    check_mmap_group, dup_ring_fd, map_kernel_descs, status_head, unregister, unregister_group,
};
use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::ring::Ring;
use crate::sys::{self, io_uring_buf};
use crate::types::{BufferGroup, BufferSelect};
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

/// A provided-buffer ring whose buffers the program places: ops that select
/// a buffer of its [`group`](RawBufRing::group) on the ring that registered
/// it take the buffers [`add`](RawBufRing::add)ed to it, in the order they
/// were added, once an [`advance`](RawBufRing::advance) has published them.
///
/// The library allocates and owns the ring of `entries` descriptors; the
/// buffers are the program's, anywhere in its memory, each of its own
/// length and with any 16-bit buffer id (ids may repeat, and a buffer may
/// be added again once the kernel is done with it). An op's completion
/// names the buffer it filled ([`Cqe::buffer_id`](crate::Cqe::buffer_id));
/// when no published buffer is left, ops that select from the group fail
/// with `ENOBUFS`. Nothing here reads completions: which buffers the kernel
/// is done with is for the program to follow, and the contract of
/// [`add`](RawBufRing::add) says when it may touch a buffer again.
///
/// The `RawBufRing` keeps a duplicate of the ring's descriptor, so the
/// kernel ring lives as long as it does. Dropping it unregisters the group
/// and frees the descriptors (keeping their addresses reserved if the
/// kernel refused: for a group unregistered or replaced by other means,
/// and on a [`single_issuer`](crate::Builder::single_issuer) ring from a
/// thread other than its submitter's, where every registration call, and
/// so [`head`](RawBufRing::head), [`available`](RawBufRing::available) and
/// [`room`](RawBufRing::room) too, fails with `EEXIST`;
/// [`unregister`](RawBufRing::unregister) reports it). The buffers stay
/// the program's to free, once the group is unregistered: after a refusal,
/// the kernel may still hand them out.
///
/// ```
/// use std::io::Write as _;
/// use std::os::unix::net::UnixStream;
/// use uring::{BufferGroup, Ring, ops::Recv};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut ring = Ring::new(8)?;
/// let mut bufs = ring.register_buf_ring_raw(BufferGroup::new(1), 4)?;
/// let mut large = vec![0u8; 256];
/// let mut small = vec![0u8; 16];
/// // SAFETY: neither vector is touched, moved or freed until the kernel is
/// // done with its buffer: until the completion naming its id, or, for a
/// // buffer no op took, until the group is unregistered below with no op
/// // in flight. Two buffers fit the ring's four descriptors.
/// unsafe {
///     bufs.add(large.as_mut_ptr(), 256, 300)?;
///     bufs.add(small.as_mut_ptr(), 16, 7)?;
/// }
/// bufs.advance();
/// let (mut tx, rx) = UnixStream::pair()?;
/// tx.write_all(b"into the first buffer added")?;
/// let cqe = ring.scope(|s| -> uring::Result<uring::Cqe> {
///     s.push(Recv::new(&rx, bufs.select()))?;
///     s.submit_and_wait(1)?;
///     Ok(s.completions().next().expect("a completion").cqe())
/// })?;
/// assert_eq!(cqe.buffer_id(), Some(300));
/// assert_eq!(&large[..cqe.res() as usize], b"into the first buffer added");
/// // Unregistered: the kernel can no longer take `small`.
/// drop(bufs);
/// assert_eq!(small, [0; 16]);
/// # Ok(())
/// # }
/// ```
pub struct RawBufRing {
    fd: OwnedFd,
    group: BufferGroup,
    /// The descriptors, `mask + 1` of them (a power of two), the tail in
    /// the first one's last two bytes.
    descs: NonNull<io_uring_buf>,
    mask: u16,
    /// The mapping behind `descs`, given up on drop.
    map: Option<Mapping>,
    /// The tail published to the kernel.
    tail: u16,
    /// Descriptors written past the tail since the last advance.
    pending: u16,
    /// Registered with `IOU_PBUF_RING_INC`.
    incremental: bool,
    /// Registered with `IOU_PBUF_RING_MMAP`: the descriptors are the
    /// kernel's pages, mapped.
    mmap: bool,
    /// Of an incremental ring, the ring's scopes' mark that the group is
    /// registered: cleared once it is unregistered.
    registered: Option<Arc<AtomicBool>>,
}

// SAFETY: the value owns its mapping and descriptor; the descriptors are
// written only through `&mut self`, and the `&self` methods read plain
// fields and make system calls on the owned descriptor.
unsafe impl Send for RawBufRing {}
// SAFETY: as above: nothing behind `&self` is written.
unsafe impl Sync for RawBufRing {}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Registers an empty provided-buffer ring of `entries` descriptors
    /// under `group`, for buffers the program places with
    /// [`RawBufRing::add`] (`IORING_REGISTER_PBUF_RING`, 5.19; liburing's
    /// `io_uring_setup_buf_ring`). The library allocates the descriptors.
    ///
    /// `entries` is a power of two, 1 to 32768 (an `InvalidArgument`
    /// error otherwise). The kernel refuses a group that already has
    /// buffers, of a [`BufRing`](crate::BufRing) or any other (`EEXIST`),
    /// and, like every buffer ring, a ring without a descriptor
    /// ([`registered_fd_only`](crate::Builder::registered_fd_only)) fails
    /// with `EBADF`.
    pub fn register_buf_ring_raw(
        &mut self,
        group: BufferGroup,
        entries: u16,
    ) -> Result<RawBufRing> {
        self.register_buf_ring_raw_with(group, entries, 0)
    }

    /// Registers an empty provided-buffer ring whose buffers the kernel
    /// consumes incrementally (`IOU_PBUF_RING_INC`, 6.12), as
    /// [`register_buf_ring_raw`](Ring::register_buf_ring_raw) otherwise.
    ///
    /// An op that selects from it takes only the bytes it wrote out of the
    /// buffer at the head, from where the last op left off: its completion
    /// names the buffer and, flagged `IORING_CQE_F_BUF_MORE`, says that the
    /// kernel keeps the rest for the next ops. The kernel is done with the
    /// buffer at the completion that names it with data and without that
    /// flag. A scope runs the ops that select from the group one after the
    /// other, as for [`Ring::register_buf_ring_incremental`], so that each
    /// completion's bytes follow the previous one's in the buffer; select
    /// with [`RawBufRing::select`] (the whole buffer). Before 6.12 the
    /// kernel refuses the flag with `EINVAL`.
    pub fn register_buf_ring_raw_incremental(
        &mut self,
        group: BufferGroup,
        entries: u16,
    ) -> Result<RawBufRing> {
        self.register_buf_ring_raw_with(group, entries, sys::IOU_PBUF_RING_INC)
    }

    /// Registers an empty provided-buffer ring whose descriptors the
    /// kernel allocates (`IOU_PBUF_RING_MMAP`, 6.4), as
    /// [`register_buf_ring_raw`](Ring::register_buf_ring_raw) otherwise:
    /// the library maps them from the ring's descriptor (at
    /// `IORING_OFF_PBUF_RING` and the group's id), and the kernel pins no
    /// memory of the program for them.
    ///
    /// The group's id must be below 2048 (an `InvalidArgument` error
    /// otherwise), as for
    /// [`register_buf_ring_mmap`](Ring::register_buf_ring_mmap), whose
    /// notes on rings set up with [`no_mmap`](crate::Builder::no_mmap) and
    /// on older kernels hold here too.
    pub fn register_buf_ring_raw_mmap(
        &mut self,
        group: BufferGroup,
        entries: u16,
    ) -> Result<RawBufRing> {
        self.register_buf_ring_raw_with(group, entries, sys::IOU_PBUF_RING_MMAP)
    }

    /// An empty provided-buffer ring consumed incrementally
    /// ([`register_buf_ring_raw_incremental`](Ring::register_buf_ring_raw_incremental),
    /// 6.12) whose descriptors the kernel allocates
    /// ([`register_buf_ring_raw_mmap`](Ring::register_buf_ring_raw_mmap)).
    pub fn register_buf_ring_raw_incremental_mmap(
        &mut self,
        group: BufferGroup,
        entries: u16,
    ) -> Result<RawBufRing> {
        self.register_buf_ring_raw_with(
            group,
            entries,
            sys::IOU_PBUF_RING_INC | sys::IOU_PBUF_RING_MMAP,
        )
    }

    fn register_buf_ring_raw_with(
        &mut self,
        group: BufferGroup,
        entries: u16,
        flags: u16,
    ) -> Result<RawBufRing> {
        // A power of two in 16 bits is at most 32768, below the kernel's
        // bound (65536, where a full ring would look empty).
        if !entries.is_power_of_two() {
            return Err(Error::InvalidArgument(format!(
                "a buffer ring has a power of two of entries, 1 to 32768 (entries {entries})"
            )));
        }
        let mmap = flags & sys::IOU_PBUF_RING_MMAP != 0;
        if mmap {
            check_mmap_group(group)?;
        }
        let fd = dup_ring_fd(self.as_raw_fd())?;
        let len = usize::from(entries) * std::mem::size_of::<io_uring_buf>();
        let descs = if mmap {
            self.register_pbuf_ring(group, 0, entries, flags)?;
            map_kernel_descs(&fd, group, len, self.setup_flags)?
        } else {
            let descs = Mapping::anonymous(len)?;
            // On failure the kernel holds nothing of the mapping, which goes.
            self.register_pbuf_ring(group, descs.as_ptr() as u64, entries, flags)?;
            descs
        };
        let incremental = flags & sys::IOU_PBUF_RING_INC != 0;
        let registered = self.scope_table.set_incremental(group.id(), incremental);
        Ok(RawBufRing {
            fd,
            group,
            descs: NonNull::new(descs.as_ptr().cast()).unwrap_or(NonNull::dangling()),
            mask: entries - 1,
            map: Some(descs),
            tail: 0,
            pending: 0,
            incremental,
            registered,
            mmap,
        })
    }
}

impl RawBufRing {
    /// Writes the descriptor of a buffer of `len` bytes at `addr`, named
    /// `bid` in completions, at the next free position of the ring (after
    /// the tail and the buffers added since the last
    /// [`advance`](RawBufRing::advance)); the kernel sees it once `advance`
    /// publishes it (liburing's `io_uring_buf_ring_add`).
    ///
    /// An `InvalidArgument` error, writing nothing, when `addr` is null,
    /// `len` is 0 (the kernel would hand out an empty buffer; on an
    /// incremental ring it would stay at the head for good) or more than
    /// [`MAX_BUF_RING_BUFFER_LEN`](crate::MAX_BUF_RING_BUFFER_LEN) (Linux
    /// 6.18 would leave the buffer at the ring's head after an op that
    /// took it whole, and hand it out again), or all
    /// [`entries`](RawBufRing::entries) descriptors were written since the
    /// last `advance`. Whether the kernel still holds published ones is
    /// not checked: its head is known only through a system call (see
    /// [`room`](RawBufRing::room)).
    ///
    /// # Safety
    ///
    /// From this call on, the kernel may write `[addr, addr + len)` for
    /// any op that selects from the group. That memory must be valid for
    /// writes, and the program must neither read nor write it (nor hold a
    /// reference to it) until the kernel is done with the buffer:
    ///
    /// - on a ring that is not incremental, once the op that took it has
    ///   posted the completion naming `bid` (a bundle's completion names
    ///   the first of the consecutive buffers it filled, in ring order, up
    ///   to its result);
    /// - on an incremental ring, once a completion names `bid` with a
    ///   positive result and without `IORING_CQE_F_BUF_MORE` (or is a
    ///   bundle's reaching past it);
    /// - for a buffer no completion released: once the group is
    ///   unregistered (this value dropped, or
    ///   [`unregister`](RawBufRing::unregister) returned `Ok`) and every
    ///   op that selected from the group before has completed, since an op
    ///   that took the buffer writes it whatever happens to the group. If
    ///   the kernel refused the unregistration, the buffer stays the
    ///   kernel's for as long as the kernel's ring lives: past the drop of
    ///   the [`Ring`](crate::Ring) while any duplicate of its descriptor
    ///   does, and through a teardown that ends after the last `close`
    ///   returns, at a point the program cannot see (leak it).
    ///
    /// Only completions the kernel posted for ops that selected from this
    /// group count (one made up with `MSG_RING` can name any buffer).
    ///
    /// The ring must also have room: fewer than `entries` buffers added
    /// and not yet taken by the kernel, published or not (the kernel's
    /// [`head`](RawBufRing::head) passes a buffer when an op takes it; on
    /// an incremental ring, when one uses it up). One more overwrites a
    /// descriptor the kernel has not read yet: the kernel would never hand
    /// out that buffer, and would hand out the new one twice.
    pub unsafe fn add(&mut self, addr: *mut u8, len: u32, bid: u16) -> Result<()> {
        if addr.is_null() || len == 0 || len > crate::MAX_BUF_RING_BUFFER_LEN {
            return Err(Error::InvalidArgument(format!(
                "a provided buffer needs an address and 1 to {} bytes \
                 (addr {addr:?}, len {len})",
                crate::MAX_BUF_RING_BUFFER_LEN
            )));
        }
        if self.pending > self.mask {
            return Err(Error::InvalidArgument(format!(
                "all {} descriptors of the ring were written since the last advance",
                self.entries()
            )));
        }
        let index = usize::from(self.tail.wrapping_add(self.pending) & self.mask);
        // SAFETY: the masked index is below `entries`, inside the mapping.
        let desc = unsafe { self.descs.as_ptr().add(index) };
        // SAFETY: the kernel reads (and, for an incremental ring, writes)
        // descriptors from its head up to the published tail only; this
        // one is past the tail, and not one the kernel still holds (the
        // caller's room contract). Field by field, so that the first
        // descriptor's last bytes (the tail) stay as they are.
        unsafe {
            (&raw mut (*desc).addr).write(addr as u64);
            (&raw mut (*desc).len).write(len);
            (&raw mut (*desc).bid).write(bid);
        }
        self.pending += 1;
        Ok(())
    }

    /// Publishes the buffers added since the last call: moves the ring's
    /// tail past them, after which ops can take them, in the order they
    /// were added (liburing's `io_uring_buf_ring_advance`).
    pub fn advance(&mut self) {
        if self.pending == 0 {
            return;
        }
        self.tail = self.tail.wrapping_add(self.pending);
        self.pending = 0;
        // SAFETY: the tail is the `resv` field of the first descriptor, a
        // naturally aligned u16 in the mapping, which only user space
        // writes. Release: the descriptors are written before the kernel
        // can see them (it loads the tail with acquire).
        unsafe {
            let at = &raw mut (*self.descs.as_ptr()).resv;
            AtomicU16::from_ptr(at).store(self.tail, Ordering::Release);
        }
    }

    /// The group ops select from.
    pub fn group(&self) -> BufferGroup {
        self.group
    }

    /// A selection of a whole buffer of this ring, whatever its length,
    /// for an op's buffer argument: a length of 0, which the kernel takes
    /// as the length of the buffer it picks. `self.group().select(len)`
    /// caps an op at `len` bytes instead (on an incremental ring an op run
    /// in a worker then consumes `len` bytes of the buffer whatever it
    /// wrote).
    pub fn select(&self) -> BufferSelect {
        self.group.select(0)
    }

    /// How many descriptors the ring has.
    pub fn entries(&self) -> u16 {
        self.mask + 1
    }

    /// Whether the kernel consumes the buffers incrementally
    /// ([`Ring::register_buf_ring_raw_incremental`]).
    pub fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// Whether the kernel allocated the descriptors
    /// ([`Ring::register_buf_ring_raw_mmap`]).
    pub fn is_mmap(&self) -> bool {
        self.mmap
    }

    /// The tail published to the kernel: the count (modulo 2^16) of
    /// buffers published so far.
    pub fn tail(&self) -> u16 {
        self.tail
    }

    /// Buffers added since the last [`advance`](RawBufRing::advance),
    /// which the kernel does not see yet.
    pub fn pending(&self) -> u16 {
        self.pending
    }

    /// The kernel's head of the ring: the count (modulo 2^16) of buffers
    /// it has taken from the ring, of an incremental ring those it has
    /// used up (`IORING_REGISTER_PBUF_STATUS`, 6.8; earlier kernels fail
    /// with `EINVAL`).
    pub fn head(&self) -> Result<u16> {
        status_head(&self.fd, self.group)
    }

    /// Buffers the kernel can take now: those published and not yet taken
    /// ([`head`](RawBufRing::head) to the tail; 6.8).
    pub fn available(&self) -> Result<u16> {
        Ok(self.tail.wrapping_sub(self.head()?))
    }

    /// How many more buffers [`add`](RawBufRing::add) can write without
    /// overwriting one the kernel has not taken: the entries less the
    /// buffers published and not taken and those pending
    /// ([`head`](RawBufRing::head); 6.8).
    pub fn room(&self) -> Result<u16> {
        let held = self.available()?.saturating_add(self.pending);
        Ok(self.entries().saturating_sub(held))
    }

    /// Unregisters the group (`IORING_UNREGISTER_PBUF_RING`) and frees the
    /// descriptors, as dropping does, reporting the kernel's refusal: the
    /// buffers then stay the kernel's until the ring is closed, and the
    /// descriptors' addresses stay reserved (descriptors the kernel
    /// allocated stay its own, unmapped from the program).
    pub fn unregister(mut self) -> Result<()> {
        let Some(descs) = self.map.take() else {
            return Ok(());
        };
        let descs = self.unmap_kernel_descs(descs);
        match unregister_group(&self.fd, self.group) {
            Ok(_) => {
                if let Some(registered) = &self.registered {
                    registered.store(false, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(e) => {
                if let Some(descs) = descs {
                    descs.retire();
                }
                Err(Error::os("IORING_UNREGISTER_PBUF_RING", e))
            }
        }
    }
}

impl RawBufRing {
    /// Of descriptors the kernel allocated, drops their mapping (before
    /// the unregistration, as [`BufRing`](crate::BufRing)'s drop explains:
    /// the kernel reaches its pages through its own view only, and no
    /// mapping of them may outlive its hold on them); gives back the
    /// program's own.
    fn unmap_kernel_descs(&self, descs: Mapping) -> Option<Mapping> {
        if self.mmap {
            drop(descs);
            None
        } else {
            Some(descs)
        }
    }
}

impl fmt::Debug for RawBufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawBufRing")
            .field("group", &self.group)
            .field("entries", &self.entries())
            .field("incremental", &self.incremental)
            .field("mmap", &self.mmap)
            .field("tail", &self.tail)
            .field("pending", &self.pending)
            .finish()
    }
}

impl Drop for RawBufRing {
    fn drop(&mut self) {
        let Some(descs) = self.map.take() else {
            return;
        };
        let descs = self.unmap_kernel_descs(descs);
        // Unregistered, the kernel reads no more descriptors, and their
        // memory goes. If it refused, it may still read and write them:
        // their addresses stay reserved (the kernel keeps its own hold on
        // the pages it pinned).
        if unregister(&self.fd, self.group) {
            if let Some(registered) = &self.registered {
                registered.store(false, Ordering::Relaxed);
            }
            drop(descs);
        } else if let Some(descs) = descs {
            descs.retire();
        }
    }
}
