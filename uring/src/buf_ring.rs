//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`, 5.19): a pool of
//! buffers the kernel picks from for ops that select a buffer, handed back
//! to the kernel by user space through a ring of buffer descriptors.

use crate::cqueue::Cqe;
use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::ring::Ring;
use crate::scope::ScopeCqe;
use crate::sys::{self, io_uring_buf};
use crate::types::{BufferGroup, BufferSelect};
use std::cell::Cell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

/// The most buffers a ring holds: the kernel takes up to 32768 entries, and
/// the ring keeps twice its buffer count of positions unambiguous in 16 bits.
pub const MAX_BUF_RING_BUFFERS: u16 = 32767;

/// The longest buffer a ring holds: `i32::MAX` bytes. Linux 6.18 commits a
/// buffer that an op takes off the ring when it selects it (reads of
/// regular files, ops run by an io-wq worker) with its length as an `int`:
/// a whole buffer of 2 GiB or more comes out negative, the commit is
/// skipped, and the buffer stays at the ring's head while its completion
/// names it, so that the next op would select, and write, a buffer already
/// lent out.
pub const MAX_BUF_RING_BUFFER_LEN: u32 = i32::MAX as u32;

/// The group ids a buffer ring the kernel allocates can have: its mmap
/// offset holds the id above `IORING_OFF_PBUF_SHIFT`, below the bits that
/// pick the region (`IORING_OFF_MMAP_MASK`), and the kernel reads back only
/// the bits that fit there (11): a larger id would map another group's
/// ring, or none.
const MMAP_GROUPS: i64 = (sys::IORING_OFF_MMAP_MASK & sys::IORING_OFF_MMAP_MASK.wrapping_neg())
    >> sys::IORING_OFF_PBUF_SHIFT;

/// Refuses a group whose buffer ring the kernel could not map back
/// (`IOU_PBUF_RING_MMAP`): see [`MMAP_GROUPS`].
pub(crate) fn check_mmap_group(group: BufferGroup) -> Result<()> {
    if i64::from(group.id()) < MMAP_GROUPS {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "a buffer ring the kernel allocates is mapped by its group's id, which must be below \
         {MMAP_GROUPS} (group {})",
        group.id()
    )))
}

/// Maps the `len` bytes of descriptors the kernel allocated for `group`
/// (`IOU_PBUF_RING_MMAP`), from the ring's descriptor `fd`, on a ring set
/// up with `setup_flags`. On failure the group is unregistered again: no
/// buffer was provided yet, so the kernel's ring is empty, and stays so if
/// it cannot be unregistered.
pub(crate) fn map_kernel_descs(
    fd: &OwnedFd,
    group: BufferGroup,
    len: usize,
    setup_flags: u32,
) -> Result<Mapping> {
    let offset = sys::IORING_OFF_PBUF_RING | (i64::from(group.id()) << sys::IORING_OFF_PBUF_SHIFT);
    Mapping::ring(fd.as_raw_fd(), len, offset).map_err(|e| {
        unregister(fd, group);
        match e {
            // Kernels before 6.7 map no buffer ring of a ring set up with
            // NO_MMAP.
            Error::Os { source, .. }
                if setup_flags & sys::IORING_SETUP_NO_MMAP != 0
                    && source.raw_os_error() == Some(libc::EINVAL) =>
            {
                Error::os(
                    "mmap(IORING_OFF_PBUF_RING) (this kernel maps no buffer ring of a ring set \
                     up with NO_MMAP)",
                    source,
                )
            }
            e => e,
        }
    })
}

/// Where a buffer is.
#[derive(Default)]
struct State {
    /// In the ring, or taken by the kernel for an op whose last completion
    /// naming it has not been claimed.
    kernel: Cell<bool>,
    /// The [`Buf`]s claimed from it that are alive.
    lent: Cell<u32>,
    /// Of an incremental ring: the bytes of it that claims have handed out
    /// since it was last provided.
    consumed: Cell<u32>,
    /// The ring position it was last provided at: the count of provides
    /// before it, which never wraps (the kernel's 16-bit tail does, and
    /// with it a buffer provided 65536 positions later would pass for one
    /// at this one).
    pos: Cell<u64>,
    /// The stamp of the last scope completion claimed from it (see
    /// [`ClaimFrom`]): of an incremental ring, a completion stamped no
    /// later was posted before that one, maybe for an earlier filling of
    /// the buffer, and is refused.
    stamp: Cell<u64>,
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
/// writing into memory that has been reused. The kernel refuses that
/// unregistration from any thread but the issuer of a
/// [`single_issuer`](crate::Builder::single_issuer) ring (`EEXIST`): a
/// `BufRing` of such a ring dropped elsewhere leaves its group registered
/// for the ring's life, its ops failing with `EFAULT`, and the group id
/// cannot be registered again. Drop it on the ring's thread.
pub struct BufRing {
    fd: OwnedFd,
    /// The id of the ring that registered it.
    ring: u32,
    group: BufferGroup,
    /// The descriptors, `entries` of them (a power of two), the tail in the
    /// first one's last two bytes.
    descs: NonNull<io_uring_buf>,
    mask: u16,
    /// The buffers, one per `state` entry, of `len` bytes.
    bufs: NonNull<u8>,
    len: u32,
    /// The mappings behind `descs` and `bufs`, given up on drop.
    maps: Option<(Mapping, Mapping)>,
    /// The buffers provided so far: the next position. The kernel's tail is
    /// its low 16 bits.
    tail: Cell<u64>,
    /// The buffer id written at each position of the ring (by its index,
    /// the position masked): where the buffers after one a completion names
    /// are, for a completion whose bytes run over several (a bundle).
    order: Box<[Cell<u16>]>,
    state: Box<[State]>,
    /// Registered with `IOU_PBUF_RING_INC`.
    incremental: bool,
    /// Registered with `IOU_PBUF_RING_MMAP`: the descriptors are the
    /// kernel's pages, which `maps.0` maps from the ring's descriptor.
    mmap: bool,
    /// Of an incremental ring, the ring's scopes' mark that the group is
    /// registered: cleared once it is unregistered.
    registered: Option<Arc<AtomicBool>>,
}

// SAFETY: the ring owns its memory and descriptor; the cells make it !Sync,
// and a `Buf` borrows it, so it moves between threads only with no buffer
// out.
unsafe impl Send for BufRing {}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Registers a provided-buffer ring of `count` buffers of `len` bytes
    /// each under `group`, allocated by the library and all handed to the
    /// kernel (`IORING_REGISTER_PBUF_RING`, 5.19).
    ///
    /// `count` is 1 to [`MAX_BUF_RING_BUFFERS`]; `len` is 1 to
    /// [`MAX_BUF_RING_BUFFER_LEN`] and `count * len` fits in memory. The
    /// kernel refuses a group that already has buffers (`EEXIST`).
    pub fn register_buf_ring(
        &mut self,
        group: BufferGroup,
        count: u16,
        len: u32,
    ) -> Result<BufRing> {
        self.register_buf_ring_with(group, count, len, 0)
    }

    /// Registers a provided-buffer ring whose buffers the kernel consumes
    /// incrementally (`IOU_PBUF_RING_INC`, 6.12), as
    /// [`register_buf_ring`](Ring::register_buf_ring) otherwise.
    ///
    /// An op that selects from it takes only the bytes it wrote out of the
    /// buffer at the head: its completion names the buffer, and says with
    /// `IORING_CQE_F_BUF_MORE` that the kernel keeps the rest for the next
    /// ops. Each [`claim`](BufRing::claim) gives the bytes of one
    /// completion, following those of the previous completion of the same
    /// buffer; the buffer goes back to the kernel once the kernel is done
    /// with it and every [`Buf`] claimed from it is dropped.
    ///
    /// That order holds only while one op at a time consumes the group, so
    /// a scope runs the ops that select from an incremental group one after
    /// the other: an op pushed while another of the scope's ops selects
    /// from the group completes with `EBUSY`, without running. (One
    /// multishot receive is one op, however many completions it posts.)
    /// Claims follow the same order: a completion read before one already
    /// claimed from its buffer is refused (its bytes may be of an earlier
    /// filling of a buffer the kernel has taken back), and one left
    /// unclaimed shifts the bytes the later claims of its buffer hand out.
    /// A send or receive flagged `MSG_WAITALL` fails with `EINVAL` in a
    /// scope (as a bundle so flagged does on any ring): the kernel retries
    /// it after a short transfer and charges the group only for the first
    /// piece, while its completion reports the whole. A read
    /// ([`Read`](crate::ops::Read), [`ReadV`](crate::ops::ReadV)) selecting
    /// from the group runs in an io-wq worker (a scope flags it
    /// `IOSQE_ASYNC`), which takes the rest of the buffer whole as it
    /// selects it: run inline, a short read of a regular file that can be
    /// polled (procfs, sysfs, FUSE) completes with bytes the kernel still
    /// counts unused (Linux 6.18). Select whole buffers ([`BufRing::select`]): with a shorter length,
    /// an op that the kernel runs in a worker consumes that length whatever
    /// it wrote, and claims would hand out the bytes at the wrong offset.
    pub fn register_buf_ring_incremental(
        &mut self,
        group: BufferGroup,
        count: u16,
        len: u32,
    ) -> Result<BufRing> {
        self.register_buf_ring_with(group, count, len, sys::IOU_PBUF_RING_INC)
    }

    /// Registers a provided-buffer ring whose descriptor ring the kernel
    /// allocates (`IOU_PBUF_RING_MMAP`, 6.4), as
    /// [`register_buf_ring`](Ring::register_buf_ring) otherwise: the
    /// library maps the descriptors from the ring's descriptor (at
    /// `IORING_OFF_PBUF_RING` and the group's id), and allocates the
    /// buffers as before.
    ///
    /// The kernel then pins no memory of the program for the descriptors.
    /// They are found by the group's id, which must be below 2048 here (an
    /// `InvalidArgument` error otherwise): the mmap offset holds no more
    /// of it. A ring set up with [`no_mmap`](crate::Builder::no_mmap) takes
    /// it too from 6.7, the kernel allocating this memory whatever the
    /// ring's setup (earlier kernels refuse the mapping with `EINVAL`, and
    /// the group is unregistered again). A ring without a descriptor
    /// ([`registered_fd_only`](crate::Builder::registered_fd_only)) has
    /// nothing to map it from, and fails with `EBADF`, as for every buffer
    /// ring. Before 6.4 the kernel refuses the flag with `EINVAL`.
    ///
    /// ```
    /// use std::io::Write as _;
    /// use std::os::unix::net::UnixStream;
    /// use uring::{BufferGroup, Ring, ops::Recv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = Ring::new(8)?;
    /// let pool = match ring.register_buf_ring_mmap(BufferGroup::new(1), 4, 64) {
    ///     Ok(pool) => pool,
    ///     Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(()), // Before 6.4.
    ///     Err(e) => return Err(e.into()),
    /// };
    /// assert!(pool.is_mmap());
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// tx.write_all(b"kernel's descriptors")?;
    /// let got = ring.scope(|s| -> uring::Result<Vec<u8>> {
    ///     s.push(Recv::new(&rx, pool.select()))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     Ok(pool.claim(&mut cqe)?.to_vec())
    /// })?;
    /// assert_eq!(got, b"kernel's descriptors");
    /// # Ok(())
    /// # }
    /// ```
    pub fn register_buf_ring_mmap(
        &mut self,
        group: BufferGroup,
        count: u16,
        len: u32,
    ) -> Result<BufRing> {
        self.register_buf_ring_with(group, count, len, sys::IOU_PBUF_RING_MMAP)
    }

    /// A provided-buffer ring consumed incrementally
    /// ([`register_buf_ring_incremental`](Ring::register_buf_ring_incremental),
    /// 6.12) whose descriptor ring the kernel allocates
    /// ([`register_buf_ring_mmap`](Ring::register_buf_ring_mmap)).
    pub fn register_buf_ring_incremental_mmap(
        &mut self,
        group: BufferGroup,
        count: u16,
        len: u32,
    ) -> Result<BufRing> {
        self.register_buf_ring_with(
            group,
            count,
            len,
            sys::IOU_PBUF_RING_INC | sys::IOU_PBUF_RING_MMAP,
        )
    }

    /// The kernel's head of the provided-buffer ring registered under
    /// `group` on this ring, by a [`BufRing`] or by any other means: the
    /// count (modulo 2^16) of buffers the kernel has taken from it, of an
    /// incremental ring those it has used up
    /// (`IORING_REGISTER_PBUF_STATUS`, 6.8).
    ///
    /// Fails with `ENOENT` when no group has that id, and with `EINVAL`
    /// when the group holds buffers given by `IORING_OP_PROVIDE_BUFFERS`
    /// rather than a ring (or, before 6.8, for any group).
    pub fn buf_ring_head(&self, group: BufferGroup) -> Result<u16> {
        let mut status = sys::io_uring_buf_status {
            buf_group: u32::from(group.id()),
            ..Default::default()
        };
        match self.register(
            sys::IORING_REGISTER_PBUF_STATUS,
            (&mut status as *mut sys::io_uring_buf_status).cast(),
            1,
            "IORING_REGISTER_PBUF_STATUS",
        ) {
            Ok(_) => Ok(status.head as u16),
            Err(Error::Os { source, .. }) => Err(status_error(source)),
            Err(e) => Err(e),
        }
    }

    /// Registers the ring of `entries` descriptors at `ring_addr` (0 with
    /// `IOU_PBUF_RING_MMAP`, where the kernel allocates them) for `group`
    /// (`IORING_REGISTER_PBUF_RING`).
    pub(crate) fn register_pbuf_ring(
        &mut self,
        group: BufferGroup,
        ring_addr: u64,
        entries: u16,
        flags: u16,
    ) -> Result<()> {
        let reg = sys::io_uring_buf_reg {
            ring_addr,
            ring_entries: u32::from(entries),
            bgid: group.id(),
            flags,
            ..Default::default()
        };
        self.register(
            sys::IORING_REGISTER_PBUF_RING,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
            "IORING_REGISTER_PBUF_RING",
        )
        .map(drop)
    }

    fn register_buf_ring_with(
        &mut self,
        group: BufferGroup,
        count: u16,
        len: u32,
        flags: u16,
    ) -> Result<BufRing> {
        let incremental = flags & sys::IOU_PBUF_RING_INC != 0;
        let mmap = flags & sys::IOU_PBUF_RING_MMAP != 0;
        if count == 0 || count > MAX_BUF_RING_BUFFERS || len == 0 || len > MAX_BUF_RING_BUFFER_LEN {
            return Err(Error::InvalidArgument(format!(
                "a buffer ring takes 1 to {MAX_BUF_RING_BUFFERS} buffers of 1 to \
                 {MAX_BUF_RING_BUFFER_LEN} bytes (count {count}, len {len})"
            )));
        }
        if mmap {
            check_mmap_group(group)?;
        }
        let entries = count.next_power_of_two();
        let descs_len = usize::from(entries) * std::mem::size_of::<io_uring_buf>();
        let bufs_len = usize::from(count)
            .checked_mul(len as usize)
            .ok_or_else(|| Error::InvalidArgument("count * len overflows".into()))?;
        let fd = dup_ring_fd(self.as_raw_fd())?;
        // The kernel's descriptors are mapped once it has allocated them.
        let ours = if mmap {
            None
        } else {
            Some(Mapping::anonymous(descs_len)?)
        };
        let bufs = Mapping::anonymous(bufs_len)?;
        self.register_pbuf_ring(
            group,
            ours.as_ref().map_or(0, |descs| descs.as_ptr() as u64),
            entries,
            flags,
        )?;
        let descs = match ours {
            Some(descs) => descs,
            None => map_kernel_descs(&fd, group, descs_len, self.setup_flags)?,
        };
        let registered = self.scope_table.set_incremental(group.id(), incremental);
        let ring = BufRing {
            fd,
            ring: self.id,
            group,
            descs: NonNull::new(descs.as_ptr().cast()).unwrap_or(NonNull::dangling()),
            mask: entries - 1,
            bufs: NonNull::new(bufs.as_ptr()).unwrap_or(NonNull::dangling()),
            len,
            maps: Some((descs, bufs)),
            tail: Cell::new(0),
            order: (0..entries).map(|_| Cell::new(0)).collect(),
            state: (0..count).map(|_| State::default()).collect(),
            incremental,
            registered,
            mmap,
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
    /// argument. For an op that takes one buffer, its length (one
    /// buffer's) is the most the op moves. A receive bundle
    /// ([`RecvFlags::BUNDLE`](crate::RecvFlags::BUNDLE)) is not held to
    /// one buffer by this length: it may fill several (Linux 6.18), though
    /// not always as many as the bytes waiting would take (the completion's
    /// `IORING_CQE_F_SOCK_NONEMPTY` says more are there); a send bundle ([`SendFlags::BUNDLE`](crate::SendFlags::BUNDLE)),
    /// which the length caps, selects with `self.group().select(0)` to send
    /// several.
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

    /// Buffers lent out as [`Buf`]s right now (of an incremental ring:
    /// buffers with at least one [`Buf`] alive).
    pub fn lent(&self) -> u16 {
        self.state.iter().filter(|s| s.lent.get() > 0).count() as u16
    }

    /// The kernel's head of the ring: the count (modulo 2^16) of buffers
    /// it has taken from the ring, of an incremental ring those it has
    /// used up (`IORING_REGISTER_PBUF_STATUS`, 6.8).
    pub fn head(&self) -> Result<u16> {
        status_head(&self.fd, self.group)
    }

    /// Buffers the kernel can pick now: those given to the ring and not yet
    /// taken ([`head`](BufRing::head) to the tail).
    pub fn available(&self) -> Result<u16> {
        Ok((self.tail.get() as u16).wrapping_sub(self.head()?))
    }

    /// Whether the kernel consumes the buffers incrementally
    /// ([`Ring::register_buf_ring_incremental`]).
    pub fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// Whether the kernel allocated the descriptor ring
    /// ([`Ring::register_buf_ring_mmap`]).
    pub fn is_mmap(&self) -> bool {
        self.mmap
    }

    /// The buffer that a scope op's completion names, with the `cqe.res()`
    /// bytes the op wrote; it goes back to the kernel when the [`Buf`] is
    /// dropped.
    ///
    /// Only a claimed buffer goes back: one whose completion is dropped
    /// unclaimed (read by `count()`, collected into plain [`Cqe`]s, or
    /// simply ignored) is not given back to the kernel, and the group has
    /// one buffer fewer for as long as the buffer ring lives.
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
    pub fn claim<C: ClaimFrom>(&self, cqe: &mut C) -> Result<Buf<'_>> {
        let (bundle, stamp) = self.vouch(cqe)?;
        let head_odd = cqe.head_was_odd();
        // SAFETY: a scope settles only completions the kernel posted for its
        // ops (no safe code can post into a ring during its scope: see the
        // scope module), this op selected from this ring's group on the ring
        // that registered it (`vouch`), was a bundle only if the scope says
        // so (which refuses receives flagged `MSG_TRUNC`), and a
        // completion's buffers are claimed once (marked below).
        let buf =
            unsafe { self.claim_one(cqe.completion(), bundle, Some(stamp), head_odd, false) }?;
        cqe.set_claimed();
        Ok(buf)
    }

    /// Every buffer that a scope op's completion filled, in order: one for
    /// most ops, several for a bundle (a `Recv` or `Send` flagged
    /// [`RecvFlags::BUNDLE`](crate::RecvFlags::BUNDLE) or
    /// [`SendFlags::BUNDLE`](crate::SendFlags::BUNDLE), 6.10), which takes
    /// consecutive buffers of the ring and posts one completion naming the
    /// first. Their bytes, joined, are the `cqe.res()` bytes of the op;
    /// each buffer goes back to the kernel when its [`Buf`] is dropped.
    /// (A scope makes a bundle or receive flagged `MSG_TRUNC` fail with
    /// `EINVAL`: its result would count bytes the kernel did not place. A
    /// multishot `RecvMsg` on a datagram or sequenced-packet socket is the
    /// exception: the kernel caps its result to what it placed, and reports
    /// the datagram's length in the header.)
    /// Errors as for
    /// [`claim`](BufRing::claim).
    ///
    /// ```
    /// use std::io::Write as _;
    /// use std::os::unix::net::UnixStream;
    /// use uring::{BufferGroup, Features, RecvFlags, Ring, ops::Recv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = Ring::new(8)?;
    /// if !ring.params().has(Features::RECVSEND_BUNDLE) {
    ///     return Ok(()); // Before 6.10.
    /// }
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// tx.write_all(&[7; 40])?;
    /// let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 16)?;
    /// let got = ring.scope(|s| -> uring::Result<Vec<usize>> {
    ///     s.push(Recv::new(&rx, pool.select()).recv_flags(RecvFlags::BUNDLE))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     let bufs = pool.claim_bundle(&mut cqe)?;
    ///     assert_eq!(bufs.iter().map(|b| b.len()).sum::<usize>(), cqe.res() as usize);
    ///     Ok(bufs.iter().map(|b| b.len()).collect())
    /// })?;
    /// assert!(got.iter().all(|&n| n <= 16));
    /// # Ok(())
    /// # }
    /// ```
    pub fn claim_bundle<C: ClaimFrom>(&self, cqe: &mut C) -> Result<Vec<Buf<'_>>> {
        let (bundle, stamp) = self.vouch(cqe)?;
        let head_odd = cqe.head_was_odd();
        // SAFETY: as in `claim`.
        let bufs = unsafe { self.claim_all(cqe.completion(), bundle, Some(stamp), head_odd) }?;
        cqe.set_claimed();
        Ok(bufs)
    }

    /// Checks that `cqe` is a scope op's, unclaimed, of an op that selected
    /// from this ring's group on the ring that registered it; returns
    /// whether the op was a bundle, and the completion's stamp.
    fn vouch<C: ClaimFrom>(&self, cqe: &C) -> Result<(bool, u64)> {
        let Some((ring, group, bundle, stamp)) = cqe.provenance() else {
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
        Ok((bundle, stamp))
    }

    /// The buffer that `cqe`'s op filled, as [`claim`](BufRing::claim), for
    /// completions read outside a scope.
    ///
    /// An error when the completion names no buffer, a buffer this ring
    /// does not have, or one already claimed and not yet given back (of an
    /// incremental ring: one the kernel has let go of), or when its bytes
    /// run over several buffers (a bundle's:
    /// [`claim_bundle_unchecked`](BufRing::claim_bundle_unchecked) takes
    /// those).
    ///
    /// # Safety
    ///
    /// `cqe` must be a completion the kernel posted, on the ring that
    /// registered this one, for an op that selected from this ring's group,
    /// and not claimed before: once that op has completed, the kernel is done
    /// with the buffer. (A completion made up by `MSG_RING` can name any
    /// buffer, including one an op in flight is filling.) Of an incremental
    /// ring, the completions of each buffer must be claimed in the order the
    /// kernel posted them, and no two ops may have consumed the group at
    /// once: the bytes of a completion are found after those of the last.
    ///
    /// Of a ring that is not incremental, a completion reporting more bytes
    /// than a buffer holds is refused: it is a bundle's, or a receive's
    /// flagged `MSG_TRUNC`, which reports a datagram's whole length
    /// ([`claim_truncated_unchecked`](BufRing::claim_truncated_unchecked)
    /// takes those).
    pub unsafe fn claim_unchecked(&self, cqe: &Cqe) -> Result<Buf<'_>> {
        // SAFETY: forwarded from the caller (which vouches for the order of
        // the claims); not a bundle's.
        unsafe { self.claim_one(cqe, false, None, None, false) }
    }

    /// The one buffer of a receive flagged `MSG_TRUNC`, as
    /// [`claim_unchecked`](BufRing::claim_unchecked): its completion may
    /// report more bytes than the buffer holds (a datagram's whole
    /// length), of which the buffer holds what fits.
    ///
    /// Of an incremental ring, the kernel counts the whole length as
    /// consumed, on from the buffer it named into the next ones, though it
    /// placed only what fit in the first: the claim lends those bytes, and
    /// keeps the ring's count in step with the kernel's (the buffers the
    /// count used up go back, the last is used on from where it stopped).
    /// A length past the buffers the ring gave the kernel is refused, as
    /// for `claim_unchecked`.
    ///
    /// # Safety
    ///
    /// As for [`claim_unchecked`](BufRing::claim_unchecked), and the op
    /// must not have been a bundle, whose buffers this would leave the
    /// kernel's for ever. Of a stream socket, `MSG_TRUNC` makes the kernel
    /// drop the bytes it reports instead of placing them: the buffer then
    /// lends what it held before.
    pub unsafe fn claim_truncated_unchecked(&self, cqe: &Cqe) -> Result<Buf<'_>> {
        let res = u32::try_from(cqe.res()).unwrap_or(0);
        if !self.incremental {
            return if res > self.len {
                // SAFETY: forwarded from the caller; of one buffer, as the
                // op was not a bundle.
                unsafe { self.claim_one(cqe, false, None, None, true) }
            } else {
                // SAFETY: forwarded from the caller.
                unsafe { self.claim_unchecked(cqe) }
            };
        }
        // SAFETY: forwarded from the caller. The buffers the count runs
        // over are those the kernel consumed (`io_kbuf_inc_commit` walks
        // the ring by the count), as for any incremental completion.
        let mut bufs = unsafe { self.claim_all(cqe, false, None, None) }?;
        // The first holds what the kernel placed; the others, which the
        // count consumed without a byte placed, go back at once (or, the
        // last, stay the kernel's from where the count stopped).
        bufs.truncate(1);
        bufs.pop()
            .ok_or_else(|| Error::InvalidArgument("the completion names no buffer".into()))
    }

    /// [`claim_unchecked`](BufRing::claim_unchecked), of a bundle's
    /// completion if `bundle`, checked to come after every completion
    /// claimed from its buffers if its `stamp` is given; of a plain ring's
    /// one buffer whatever the result if `truncated`.
    ///
    /// # Safety
    ///
    /// As for [`claim_unchecked`](BufRing::claim_unchecked), and as for
    /// [`claim_bundle_unchecked`](BufRing::claim_bundle_unchecked) if
    /// `bundle`, or [`claim_truncated_unchecked`] if `truncated`; without a
    /// `stamp`, the caller vouches for the order of the claims.
    ///
    /// [`claim_truncated_unchecked`]: BufRing::claim_truncated_unchecked
    unsafe fn claim_one(
        &self,
        cqe: &Cqe,
        bundle: bool,
        stamp: Option<u64>,
        head_odd: Option<bool>,
        truncated: bool,
    ) -> Result<Buf<'_>> {
        let span = self.span(cqe, bundle, stamp, truncated)?;
        if span.count > 1 {
            return Err(Error::InvalidArgument(format!(
                "the completion's {} bytes fill {} buffers (a bundle): claim them all with \
                 claim_bundle",
                cqe.res(),
                span.count
            )));
        }
        let state = &self.state[usize::from(span.bid)];
        let start = state.consumed.get();
        let filled = span.res.min(self.len - start);
        let released = self.last_released(cqe, span.pos, head_odd);
        Ok(self.lend(span.bid, start, filled, released, stamp))
    }

    /// Every buffer that `cqe`'s op filled, as
    /// [`claim_bundle`](BufRing::claim_bundle), for completions read
    /// outside a scope. Errors as for
    /// [`claim_unchecked`](BufRing::claim_unchecked), but for a bundle's.
    ///
    /// # Safety
    ///
    /// As for [`claim_unchecked`](BufRing::claim_unchecked), and the op
    /// must not have been flagged `MSG_TRUNC`: the buffers are counted
    /// from the completion's result, which then counts bytes the kernel
    /// did not place, in buffers it did not take (on a ring that is not
    /// incremental); nor `MSG_WAITALL`, which the kernel retries into
    /// buffers it left in the ring.
    pub unsafe fn claim_bundle_unchecked(&self, cqe: &Cqe) -> Result<Vec<Buf<'_>>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.claim_all(cqe, true, None, None) }
    }

    /// [`claim_bundle_unchecked`](BufRing::claim_bundle_unchecked), of a
    /// bundle's completion if `bundle` (else the buffers the kernel took
    /// for one op that is not: one, but on an incremental ring).
    ///
    /// # Safety
    ///
    /// As for [`claim_one`](BufRing::claim_one).
    unsafe fn claim_all(
        &self,
        cqe: &Cqe,
        bundle: bool,
        stamp: Option<u64>,
        head_odd: Option<bool>,
    ) -> Result<Vec<Buf<'_>>> {
        let span = self.span(cqe, bundle, stamp, false)?;
        let mut left = span.res;
        let mut bufs = Vec::with_capacity(usize::from(span.count));
        for i in 0..span.count {
            let bid = if i == 0 {
                span.bid
            } else {
                self.order[self.index(span.pos + u64::from(i))].get()
            };
            let start = self.state[usize::from(bid)].consumed.get();
            let filled = left.min(self.len - start);
            left -= filled;
            // The kernel is done with every buffer of a bundle but the last,
            // which it filled up to its end.
            let released = i + 1 < span.count || self.last_released(cqe, span.pos, head_odd);
            bufs.push(self.lend(bid, start, filled, released, stamp));
        }
        Ok(bufs)
    }

    /// The buffers `cqe`'s bytes lie in, checked: the one it names, which
    /// the kernel has, and, for a bundle or on an incremental ring, as many
    /// after it in the ring as its bytes fill (the kernel takes a bundle's
    /// buffers in ring order, and an incremental ring's consumption goes on
    /// into the next buffers by the count the completion reports), each
    /// one the ring gave the kernel at that position and, of an
    /// incremental ring, not yet used. Any other op takes one buffer of a
    /// plain ring: a result larger than the buffer is refused, but if
    /// `truncated` (a receive flagged `MSG_TRUNC` reports a datagram's
    /// whole length), as it cannot be told from a bundle's.
    ///
    /// Of an incremental ring, a completion with a `stamp` no later than
    /// that of a completion claimed from its buffer is refused: the kernel
    /// posted it before that one, and the bytes it names are not where the
    /// claims have got to, or are of an earlier filling of a buffer the
    /// kernel may be filling again.
    fn span(&self, cqe: &Cqe, bundle: bool, stamp: Option<u64>, truncated: bool) -> Result<Span> {
        let bid = cqe
            .buffer_id()
            .ok_or_else(|| Error::InvalidArgument("the completion names no buffer".into()))?;
        let state = self.state.get(usize::from(bid)).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "buffer {bid} is not one of this ring's {}",
                self.count()
            ))
        })?;
        if !state.kernel.get() {
            return Err(Error::InvalidArgument(format!(
                "buffer {bid} is claimed already"
            )));
        }
        if let Some(stamp) = stamp.filter(|&stamp| self.incremental && stamp <= state.stamp.get()) {
            return Err(Error::InvalidArgument(format!(
                "the completion (stamp {stamp}) came before one of buffer {bid} claimed \
                 already: the completions of an incremental ring are claimed in the order \
                 they are read"
            )));
        }
        let res = u32::try_from(cqe.res()).unwrap_or(0);
        let room = self.len - state.consumed.get();
        let count = if res <= room || truncated {
            1
        } else if !(bundle || self.incremental) {
            return Err(Error::InvalidArgument(format!(
                "the completion's {res} bytes are more than buffer {bid} holds ({}): a \
                 bundle's (claim_bundle_unchecked) or a receive's flagged MSG_TRUNC \
                 (claim_truncated_unchecked)",
                self.len
            )));
        } else {
            1 + (res - room).div_ceil(self.len)
        };
        let beyond = || {
            Error::InvalidArgument(format!(
                "the completion's {res} bytes run past the buffers the ring gave the kernel \
                 after buffer {bid}"
            ))
        };
        let count = u16::try_from(count)
            .ok()
            .filter(|&n| n <= self.count())
            .ok_or_else(beyond)?;
        let pos = state.pos.get();
        for i in 1..count {
            let at = pos + u64::from(i);
            let next = &self.state[usize::from(self.order[self.index(at)].get())];
            if !next.kernel.get() || next.pos.get() != at || next.consumed.get() != 0 {
                return Err(beyond());
            }
        }
        Ok(Span {
            bid,
            pos,
            count,
            res,
        })
    }

    /// Whether the kernel is done with the last buffer `cqe`'s bytes lie
    /// in. It lets go of a whole buffer at its only completion, and of an
    /// incremental one at the completion that took data without `BUF_MORE`.
    /// A completion flagged `BUF_MORE` keeps its buffer the kernel's on any
    /// ring: Linux 6.18 sets it on incremental rings alone, but the flag is
    /// the kernel's own word that it keeps the buffer.
    ///
    /// An incremental buffer's completion that took no data and is not
    /// flagged `BUF_MORE` is either: the kernel may have left the buffer at
    /// the head of the ring (an op it commits at completion that failed, or
    /// moved nothing: Linux 6.18.0 posts no `BUF_MORE` then), or taken it
    /// whole when the op selected it (a regular file, which cannot be
    /// polled, or an op an io-wq worker ran) and then moved nothing (the
    /// end of a file, a failure). The kernel's head tells them apart, read
    /// as the scope settled the completion (see `ScopeTable::leave_group`),
    /// when the op, the only one of its group in flight, had ended and no
    /// later one could have selected: the buffer at `pos` was at the head
    /// when the op selected it, so the head is at `pos` or one past it,
    /// and `head_odd`, its lowest bit, says which. One past is the kernel's
    /// word that it took the buffer and let go of it. Without `head_odd` (a
    /// claim outside a scope, a kernel without the ring's status), the
    /// buffer stays the kernel's: lost to the ring rather than given to it
    /// twice. (Were the head further on, against the kernel's code, an
    /// even distance keeps the buffer, and an odd one means the head passed
    /// it all the same.)
    fn last_released(&self, cqe: &Cqe, pos: u64, head_odd: Option<bool>) -> bool {
        if cqe.flags() & sys::IORING_CQE_F_BUF_MORE != 0 {
            return false;
        }
        !self.incremental || cqe.res() > 0 || head_odd == Some(pos.is_multiple_of(2))
    }

    /// Lends `len` bytes of buffer `bid` from `start` as a [`Buf`];
    /// `released` when the kernel is done with the buffer; `stamp`, the
    /// claimed completion's, if known.
    fn lend(&self, bid: u16, start: u32, len: u32, released: bool, stamp: Option<u64>) -> Buf<'_> {
        let state = &self.state[usize::from(bid)];
        if self.incremental {
            state.consumed.set(start + len);
        }
        if let Some(stamp) = stamp {
            state.stamp.set(stamp);
        }
        if released {
            state.kernel.set(false);
        }
        state.lent.set(state.lent.get() + 1);
        Buf {
            ring: self,
            bid,
            start: start as usize,
            len: len as usize,
        }
    }

    /// The `len` bytes of buffer `bid`.
    pub(crate) fn buffer(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < count`, so the offset is inside the buffers'
        // mapping.
        unsafe { self.bufs.as_ptr().add(usize::from(bid) * self.len as usize) }
    }

    /// Ends one lending of buffer `bid` (a [`Buf`] dropped): the last
    /// one, once the kernel is done with the buffer, gives it back.
    pub(crate) fn unlend(&self, bid: u16) {
        let state = &self.state[usize::from(bid)];
        let lent = state.lent.get() - 1;
        state.lent.set(lent);
        if lent == 0 && !state.kernel.get() {
            self.provide(bid);
        }
    }

    /// The index in the ring of position `pos`.
    fn index(&self, pos: u64) -> usize {
        (pos & u64::from(self.mask)) as usize
    }

    /// Hands buffer `bid` to the kernel at the ring's tail.
    fn provide(&self, bid: u16) {
        let tail = self.tail.get();
        // SAFETY: the masked index is below `entries`, inside the mapping.
        let desc = unsafe { self.descs.as_ptr().add(self.index(tail)) };
        // SAFETY: the kernel reads descriptors from its head up to the
        // published tail only; this one is past the tail. Field by field,
        // so that the first descriptor's last bytes (the tail) stay as they
        // are.
        unsafe {
            (&raw mut (*desc).addr).write(self.buffer(bid) as u64);
            (&raw mut (*desc).len).write(self.len);
            (&raw mut (*desc).bid).write(bid);
        }
        let state = &self.state[usize::from(bid)];
        state.kernel.set(true);
        state.consumed.set(0);
        state.pos.set(tail);
        self.order[self.index(tail)].set(bid);
        let tail = tail + 1;
        self.tail.set(tail);
        // SAFETY: the tail is the `resv` field of the first descriptor, a
        // naturally aligned u16 in the mapping, which only user space
        // writes. Release: the descriptor is written before the kernel can
        // see it.
        unsafe {
            let at = &raw mut (*self.descs.as_ptr()).resv;
            AtomicU16::from_ptr(at).store(tail as u16, Ordering::Release);
        }
    }
}

/// The buffers a completion's bytes lie in: the one it names, at ring
/// position `pos`, and the `count - 1` after it.
struct Span {
    bid: u16,
    pos: u64,
    count: u16,
    /// The completion's bytes.
    res: u32,
}

/// What [`BufRing::claim`] takes: a completion that a scope vouches for.
#[diagnostic::on_unimplemented(
    message = "a buffer can be claimed safely only from a scope's completion, not from `{Self}`",
    label = "not a `ScopeCqe`",
    note = "read the completion in a scope (`ring.scope(|s| .. s.completions() ..)`) and claim from the `ScopeCqe`; outside a scope, `unsafe {{ pool.claim_unchecked(&cqe) }}` takes your word that the kernel posted it for an op that selected from this pool"
)]
pub trait ClaimFrom: crate::types::private::Sealed {
    /// The ring and buffer group of a scope op's completion whose buffer
    /// has not been claimed, whether the op was a bundle, and the
    /// completion's stamp: larger than those of the completions its ring's
    /// scopes settled before it.
    #[doc(hidden)]
    fn provenance(&self) -> Option<(u32, u16, bool, u64)>;
    /// Marks the buffer claimed.
    #[doc(hidden)]
    fn set_claimed(&mut self);
    /// The completion.
    #[doc(hidden)]
    fn completion(&self) -> &Cqe;
    /// Of an incremental ring's completion that names a buffer, took no
    /// data and is not flagged `BUF_MORE`: whether the kernel's head of the
    /// ring was odd when its scope settled it.
    #[doc(hidden)]
    fn head_was_odd(&self) -> Option<bool>;
}

impl<C: crate::UniformCqe> crate::types::private::Sealed for ScopeCqe<'_, C> {}

impl<C: crate::UniformCqe> ClaimFrom for ScopeCqe<'_, C> {
    fn provenance(&self) -> Option<(u32, u16, bool, u64)> {
        ScopeCqe::provenance(self)
    }

    fn set_claimed(&mut self) {
        ScopeCqe::set_claimed(self)
    }

    fn completion(&self) -> &Cqe {
        (**self).as_ref()
    }

    fn head_was_odd(&self) -> Option<bool> {
        ScopeCqe::head_was_odd(self)
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("group", &self.group)
            .field("count", &self.count())
            .field("buf_len", &self.len)
            .field("incremental", &self.incremental)
            .field("lent", &self.lent())
            .finish()
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        let Some((descs, bufs)) = self.maps.take() else {
            return;
        };
        // The kernel's descriptors (`IOU_PBUF_RING_MMAP`) are its pages:
        // it reads and writes them through its own view of them, never
        // through this mapping, so no op can reach memory through these
        // addresses. The view goes before the unregistration, so that no
        // mapping of the pages outlives the kernel's hold on them, on any
        // kernel: since 6.10 the mapping holds references on the pages
        // (`vm_insert_pages`), which unregistering (`io_free_region`) does
        // not take away, so pages still mapped would stay allocated and
        // unreachable by the kernel; 6.7 to 6.9 kept them until the ring
        // was torn down; 6.4 to 6.6, before the fix for CVE-2024-0582,
        // freed them at unregistration even while mapped, and the pages
        // could be reused under a mapping that still existed. If the
        // kernel refuses the unregistration, it keeps its pages and its
        // descriptors, which name only buffers kept reserved below.
        let descs = if self.mmap {
            drop(descs);
            None
        } else {
            Some(descs)
        };
        let unregistered = unregister(&self.fd, self.group);
        if unregistered && let Some(registered) = &self.registered {
            registered.store(false, Ordering::Relaxed);
        }
        // Unregistered, the kernel reads no more descriptors: their memory
        // goes (if the kernel refused, their addresses stay reserved too).
        // An op that picked a buffer before may still write to it, so the
        // buffers' addresses stay reserved, with no memory behind them.
        if let Some(descs) = descs {
            if unregistered {
                drop(descs);
            } else {
                descs.retire();
            }
        }
        bufs.retire();
    }
}

/// A duplicate of the ring's descriptor `fd` (`F_DUPFD_CLOEXEC`), which
/// keeps the kernel ring alive for the value that holds it (a buffer ring,
/// a message target).
pub(crate) fn dup_ring_fd(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: `fcntl(F_DUPFD_CLOEXEC)` on the ring's own descriptor, which
    // is open (or -1, which the kernel refuses with EBADF); the duplicate it
    // returns is owned by no one else.
    match unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) } {
        -1 => Err(Error::os(
            "fcntl(F_DUPFD_CLOEXEC)",
            std::io::Error::last_os_error(),
        )),
        // SAFETY: a fresh descriptor, owned from here on.
        dup => Ok(unsafe { OwnedFd::from_raw_fd(dup) }),
    }
}

/// The kernel's head of the ring of `group` (`IORING_REGISTER_PBUF_STATUS`),
/// asked through `fd`, a duplicate of the ring's descriptor.
pub(crate) fn status_head(fd: &OwnedFd, group: BufferGroup) -> Result<u16> {
    status_head_raw(fd.as_raw_fd(), group.id())
}

/// [`status_head`] through `fd`, a descriptor of the ring that registered
/// `group`, open for the call.
pub(crate) fn status_head_raw(fd: RawFd, group: u16) -> Result<u16> {
    let mut status = sys::io_uring_buf_status {
        buf_group: u32::from(group),
        ..Default::default()
    };
    // SAFETY: the argument is a valid `io_uring_buf_status` alive for the
    // call, which the kernel writes; `fd` is a ring's descriptor (a wrong
    // one fails the call).
    unsafe {
        sys::io_uring_register(
            fd,
            sys::IORING_REGISTER_PBUF_STATUS,
            (&mut status as *mut sys::io_uring_buf_status).cast(),
            1,
        )
    }
    .map_err(status_error)?;
    Ok(status.head as u16)
}

/// Unregisters the ring of `group` (`IORING_UNREGISTER_PBUF_RING`) through
/// `fd`, a duplicate of the ring's descriptor; whether the kernel did.
pub(crate) fn unregister(fd: &OwnedFd, group: BufferGroup) -> bool {
    unregister_group(fd, group).is_ok()
}

/// [`unregister`], with the kernel's error.
pub(crate) fn unregister_group(fd: &OwnedFd, group: BufferGroup) -> std::io::Result<u32> {
    let reg = sys::io_uring_buf_reg {
        bgid: group.id(),
        ..Default::default()
    };
    // SAFETY: the argument is a valid `io_uring_buf_reg` alive for the
    // call, on a duplicate of the ring's descriptor.
    unsafe {
        sys::io_uring_register(
            fd.as_raw_fd(),
            sys::IORING_UNREGISTER_PBUF_RING,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
        )
    }
}

/// The error of a failed `IORING_REGISTER_PBUF_STATUS`, naming what the
/// kernel's errno means for it.
fn status_error(e: std::io::Error) -> Error {
    let call = match e.raw_os_error() {
        Some(libc::ENOENT) => "IORING_REGISTER_PBUF_STATUS (no buffer group has that id)",
        Some(libc::EINVAL) => {
            "IORING_REGISTER_PBUF_STATUS (the group is not a buffer ring, or the kernel \
             predates 6.8)"
        }
        _ => "IORING_REGISTER_PBUF_STATUS",
    };
    Error::os(call, e)
}

/// A buffer of a [`BufRing`], claimed from a completion: the bytes the op
/// wrote, readable and writable; dropping it gives the buffer back to the
/// kernel.
///
/// A `Buf` is neither `Send` nor `Sync`: it stays on the thread that holds
/// its `BufRing`, which its drop updates. To hand the bytes to another
/// thread, copy them out (`buf.to_vec()`).
pub struct Buf<'a> {
    ring: &'a BufRing,
    bid: u16,
    /// Where the bytes start in the buffer (past zero only in incremental
    /// rings).
    start: usize,
    len: usize,
}

mod thread {
    /// What a [`Buf`](super::Buf) would need to go to another thread, or be
    /// shared with one: no type has it, so that the compiler's error for a
    /// `Buf` sent to a thread is this one, rather than one for each field
    /// of the `BufRing` it borrows.
    #[diagnostic::on_unimplemented(
        message = "a claimed `Buf` cannot be sent to or shared with another thread",
        label = "`{Self}` stays on the thread that holds its `BufRing`",
        note = "dropping a `Buf` gives its buffer back to its `BufRing`, which only one thread may use (a `BufRing` is not `Sync`)",
        note = "copy the bytes out and send the copy (`let bytes = buf.to_vec();`), or use them on this thread and send what you make of them"
    )]
    pub trait ThreadSafeBuf {}
}

#[doc(hidden)]
// SAFETY: the bound never holds: `ThreadSafeBuf` has no impl, and no code
// outside this module can name it to add one. A `Buf` is not `Send`, as the
// `&BufRing` it holds would make it (`BufRing` is not `Sync`); the impl
// only makes the compiler give that one reason.
unsafe impl<'a> Send for Buf<'a> where Buf<'a>: thread::ThreadSafeBuf {}

#[doc(hidden)]
// SAFETY: as for `Send`: a `Buf` is not `Sync`.
unsafe impl<'a> Sync for Buf<'a> where Buf<'a>: thread::ThreadSafeBuf {}

impl Buf<'_> {
    /// The buffer id.
    pub fn bid(&self) -> u16 {
        self.bid
    }

    /// Where in the buffer the op's bytes start: zero, but for the later
    /// completions of a buffer of an incremental ring.
    pub fn offset(&self) -> usize {
        self.start
    }

    /// The length of the whole buffer.
    pub fn capacity(&self) -> usize {
        self.ring.len as usize
    }
}

impl Deref for Buf<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: these bytes of the buffer are lent to this `Buf` alone
        // (no other claim hands them out until the buffer is provided
        // again, which waits for this `Buf`'s drop), the kernel is done with
        // them (the claim's contract), and `start + len <= buf_len`.
        unsafe { std::slice::from_raw_parts(self.ring.buffer(self.bid).add(self.start), self.len) }
    }
}

impl DerefMut for Buf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` is unique.
        unsafe {
            std::slice::from_raw_parts_mut(self.ring.buffer(self.bid).add(self.start), self.len)
        }
    }
}

impl Drop for Buf<'_> {
    fn drop(&mut self) {
        self.ring.unlend(self.bid);
    }
}

impl fmt::Debug for Buf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("bid", &self.bid)
            .field("offset", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::MMAP_GROUPS;
    use crate::sys;

    #[test]
    fn the_mmap_offset_holds_group_ids_below_2048() {
        assert_eq!(MMAP_GROUPS, 2048);
        let last = sys::IORING_OFF_PBUF_RING | ((MMAP_GROUPS - 1) << sys::IORING_OFF_PBUF_SHIFT);
        assert_eq!(last & sys::IORING_OFF_MMAP_MASK, sys::IORING_OFF_PBUF_RING);
        let first_out = sys::IORING_OFF_PBUF_RING | (MMAP_GROUPS << sys::IORING_OFF_PBUF_SHIFT);
        assert_ne!(
            first_out & sys::IORING_OFF_MMAP_MASK,
            sys::IORING_OFF_PBUF_RING
        );
    }
}
