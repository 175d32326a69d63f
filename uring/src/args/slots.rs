//! Slots of the registered-file table named by ops that fill them, and
//! registered buffers.

use crate::op::SqeField;
use crate::types::FixedMut;
use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Where an op that creates a descriptor (`Accept`, `OpenAt`, `Socket`,
/// `Pipe`) puts it: a regular descriptor of the process (the default), or a
/// direct descriptor in the ring's fixed-file table, in a free slot the
/// kernel picks or at a slot held exclusively (replacing the file there). A
/// direct descriptor's op completes with 0 (at a slot) or the slot picked;
/// [`FixedFiles::get`](crate::FixedFiles::get) turns that into a `Fixed`.
#[derive(PartialEq, Eq, Hash)]
pub struct DirectSlot<'f> {
    /// `file_index`: 0, `IORING_FILE_INDEX_ALLOC`, or slot + 1.
    value: u32,
    /// The ring whose table the slot is in; 0 for no slot.
    ring: u32,
    /// Whether the slot's handle held the whole table (see
    /// [`PipeSlots`]).
    whole_table: bool,
    _slot: PhantomData<&'f mut ()>,
}

impl DirectSlot<'static> {
    /// A regular descriptor, not a direct one.
    pub const NONE: DirectSlot<'static> = DirectSlot {
        value: 0,
        ring: 0,
        whole_table: false,
        _slot: PhantomData,
    };
    /// A free slot of the table, which the kernel picks (within the range
    /// [`Ring::set_file_alloc_range`](crate::Ring::set_file_alloc_range) set).
    pub const ALLOC: DirectSlot<'static> = DirectSlot {
        value: crate::sys::IORING_FILE_INDEX_ALLOC,
        ring: 0,
        whole_table: false,
        _slot: PhantomData,
    };
}

impl<'f> DirectSlot<'f> {
    /// The slot `slot`, replacing the file it holds. The slot is held
    /// exclusively, so no op using the file there can be in flight, and the
    /// replacement cannot be pushed twice. (A direct `Pipe` at it takes the
    /// slot after it too: see [`PipeSlots`].)
    pub fn at(slot: FixedMut<'f>) -> DirectSlot<'f> {
        DirectSlot {
            value: slot.index().wrapping_add(1),
            ring: slot.ring(),
            whole_table: slot.whole_table(),
            _slot: PhantomData,
        }
    }
}

/// Where a `Pipe` puts its two ends: regular descriptors, direct ones in
/// two free slots the kernel picks, or at a slot and the one after it. Made
/// from a [`DirectSlot`]; a slot whose handle came from
/// [`FixedFiles::get_mut`](crate::FixedFiles::get_mut) holds the whole
/// table, the slot after it included. One from
/// [`FixedFiles::get_many_mut`](crate::FixedFiles::get_many_mut) holds only
/// its own slot (the next may be another handle's): the pipe then fails
/// with `EINVAL`, replacing nothing.
#[derive(PartialEq, Eq, Hash)]
pub struct PipeSlots<'f>(DirectSlot<'f>);

impl PipeSlots<'static> {
    /// Regular descriptors.
    pub const NONE: PipeSlots<'static> = PipeSlots(DirectSlot::NONE);
    /// Two free slots, which the kernel picks.
    pub const ALLOC: PipeSlots<'static> = PipeSlots(DirectSlot::ALLOC);
}

impl<'f> From<DirectSlot<'f>> for PipeSlots<'f> {
    fn from(slot: DirectSlot<'f>) -> PipeSlots<'f> {
        PipeSlots(slot)
    }
}

impl fmt::Debug for PipeSlots<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PipeSlots").field(&self.0).finish()
    }
}

/// A slot number the kernel refuses (`EINVAL`) before it installs anything:
/// past every table (which holds at most 2^20 files), far enough from the
/// top that adding an update's count to it does not wrap (`EOVERFLOW`), and
/// no sentinel.
const NO_SUCH_SLOT: u32 = 1 << 31;

// SAFETY: a slot number is not an address. A slot held with a handle of
// one slot alone is replaced by a number the kernel refuses: it would
// install the pipe's write end in the next slot.
unsafe impl SqeField<u32> for PipeSlots<'_> {
    #[inline(always)]
    fn into_field(self) -> u32 {
        let slot = self.0;
        let at_a_slot = slot.value != 0 && slot.value != crate::sys::IORING_FILE_INDEX_ALLOC;
        if at_a_slot && !slot.whole_table {
            NO_SUCH_SLOT
        } else {
            slot.value
        }
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        SqeField::<u32>::fits_ring(&self.0, ring)
    }
}

impl fmt::Debug for DirectSlot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            0 => f.write_str("DirectSlot::NONE"),
            crate::sys::IORING_FILE_INDEX_ALLOC => f.write_str("DirectSlot::ALLOC"),
            n => write!(f, "DirectSlot::at({})", n - 1),
        }
    }
}

// SAFETY: a slot number is not an address.
unsafe impl SqeField<u32> for DirectSlot<'_> {
    #[inline(always)]
    fn into_field(self) -> u32 {
        self.value
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        self.ring == 0 || self.ring == ring
    }
}

/// Where `FilesUpdate` puts its descriptors: from a slot held exclusively on
/// (replacing the files there), or in free slots the kernel picks.
#[derive(PartialEq, Eq, Hash)]
pub struct FilesAt<'f> {
    /// `off`: the first slot, or `IORING_FILE_INDEX_ALLOC`.
    value: u32,
    ring: u32,
    /// Whether the slot's handle held the whole table.
    whole_table: bool,
    _slot: PhantomData<&'f mut ()>,
}

impl FilesAt<'static> {
    /// Free slots, which the kernel picks and writes back into the
    /// [`FileUpdates`].
    pub const ALLOC: FilesAt<'static> = FilesAt {
        value: crate::sys::IORING_FILE_INDEX_ALLOC,
        ring: 0,
        whole_table: true,
        _slot: PhantomData,
    };
}

impl<'f> From<FixedMut<'f>> for FilesAt<'f> {
    /// The slots from `slot` on. A handle from
    /// [`FixedFiles::get_mut`](crate::FixedFiles::get_mut) borrows the
    /// whole table, so no op using a file of it can be in flight. One from
    /// [`FixedFiles::get_many_mut`](crate::FixedFiles::get_many_mut) holds
    /// its own slot alone, and the update would replace the ones after it
    /// too, which other handles may hold: it fails with `EINVAL`, replacing
    /// nothing.
    fn from(slot: FixedMut<'f>) -> FilesAt<'f> {
        FilesAt {
            value: slot.index(),
            ring: slot.ring(),
            whole_table: slot.whole_table(),
            _slot: PhantomData,
        }
    }
}

impl fmt::Debug for FilesAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            crate::sys::IORING_FILE_INDEX_ALLOC => f.write_str("FilesAt::ALLOC"),
            n => write!(f, "FilesAt({n})"),
        }
    }
}

// SAFETY: a slot number is not an address. The kernel reads `off` as an
// `int` and compares it with `IORING_FILE_INDEX_ALLOC` (-1) as such, so the
// value is sign-extended into the 64-bit field, as liburing writes it. A
// slot held with a handle of one slot alone is replaced by a number past
// every table, which the kernel refuses before it replaces anything.
unsafe impl SqeField<u64> for FilesAt<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        let value = if self.whole_table {
            self.value
        } else {
            NO_SUCH_SLOT
        };
        value as i32 as i64 as u64
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        self.ring == 0 || self.ring == ring
    }
}

/// The descriptors a `FilesUpdate` puts in the table: borrowed files, or
/// `None` to empty a slot. With [`FilesAt::ALLOC`], the kernel writes the
/// slots it picked back here ([`slots`](FileUpdates::slots)).
pub struct FileUpdates<'fd> {
    fds: Vec<i32>,
    /// What the kernel reads and, for [`FilesAt::ALLOC`], writes the slots
    /// back into: `fds` copied again at each push (in place: its address
    /// does not change), so that slot numbers never stand for descriptors
    /// in a later push of the same updates.
    sqe: Vec<i32>,
    _files: PhantomData<BorrowedFd<'fd>>,
}

impl<'fd> FileUpdates<'fd> {
    /// The descriptors to install, in slot order.
    pub fn new(files: &[Option<BorrowedFd<'fd>>]) -> FileUpdates<'fd> {
        let fds: Vec<i32> = files
            .iter()
            .map(|f| f.map_or(-1, |f| f.as_raw_fd()))
            .collect();
        FileUpdates {
            sqe: fds.clone(),
            fds,
            _files: PhantomData,
        }
    }

    /// How many descriptors.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// After a completed `FilesUpdate` into [`FilesAt::ALLOC`]: the slot
    /// each descriptor went to, in order (as many as the completion counts);
    /// before, or after an update at a slot, the descriptors. This array is
    /// the one the SQE names. Pushed again, the updates install the same
    /// descriptors again, not the slot numbers written back.
    pub fn slots(&self) -> &[i32] {
        &self.sqe
    }
}

impl fmt::Debug for FileUpdates<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FileUpdates").field(&self.fds).finish()
    }
}

// SAFETY: the address of a fresh copy of the descriptors, borrowed
// exclusively for the op's lifetime (the kernel writes the slots it picked
// back into it), with their count; each is a borrowed descriptor or -1.
unsafe impl SqeField<(u64, u32)> for &mut FileUpdates<'_> {
    #[inline(always)]
    fn into_field(self) -> (u64, u32) {
        self.sqe.copy_from_slice(&self.fds);
        let len = u32::try_from(self.sqe.len()).unwrap_or(u32::MAX);
        (self.sqe.as_mut_ptr() as u64, len)
    }
}

/// A registered buffer: the index [`FixedBuffers::get`](crate::FixedBuffers::get)
/// hands out, for `ReadFixed`, `WriteFixed` and their vectored forms. The
/// bytes an op names must lie inside that buffer; the kernel fails the op
/// with `EFAULT` otherwise. Unlike a [`Fixed`](crate::Fixed) file, an index
/// pushed to another ring than its table's is not refused: it names that
/// ring's buffer of the index, and the same bound holds (the borrowed slice
/// must lie inside it, else `EFAULT`; an index past the table is `EFAULT`
/// too), so no op reaches memory the program did not register there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedBuf(pub(crate) u16);

impl FixedBuf {
    /// The index in the registered-buffer table.
    pub const fn index(self) -> u16 {
        self.0
    }
}

// SAFETY: an index is not an address.
unsafe impl SqeField<u16> for FixedBuf {
    #[inline(always)]
    fn into_field(self) -> u16 {
        self.0
    }
}

/// A slot of another ring's registered-file table, for `MsgRingFd` to pass a
/// file into: one held exclusively, or a free one that ring's kernel picks.
/// It borrows the target ring, which is what names it.
#[derive(PartialEq, Eq, Hash)]
pub struct RingSlot<'t> {
    ring_fd: i32,
    /// `file_index`: slot + 1, or `IORING_FILE_INDEX_ALLOC`.
    value: u32,
    _ring: PhantomData<&'t crate::Ring>,
}

impl<'t> RingSlot<'t> {
    /// A free slot of `ring`'s table, which its kernel picks.
    pub fn alloc(ring: &'t crate::Ring) -> RingSlot<'t> {
        // A message carrying a descriptor will reach the ring.
        ring.outside.set(true);
        RingSlot {
            ring_fd: ring.as_raw_fd(),
            value: crate::sys::IORING_FILE_INDEX_ALLOC,
            _ring: PhantomData,
        }
    }

    /// A free slot of the table of the ring `target` names, which its
    /// kernel picks: from any thread.
    pub fn alloc_in(target: &'t crate::RingTarget) -> RingSlot<'t> {
        RingSlot {
            ring_fd: target.as_raw_fd(),
            value: crate::sys::IORING_FILE_INDEX_ALLOC,
            _ring: PhantomData,
        }
    }

    /// The slot `slot` of `ring`'s table, replacing the file it holds; an
    /// error if the slot is of another ring's table.
    pub fn at(ring: &'t crate::Ring, slot: FixedMut<'t>) -> crate::Result<RingSlot<'t>> {
        if slot.ring() != ring.id {
            return Err(crate::Error::InvalidArgument(
                "the slot is not of the target ring's table".into(),
            ));
        }
        ring.outside.set(true);
        Ok(RingSlot {
            ring_fd: ring.as_raw_fd(),
            value: slot.index().wrapping_add(1),
            _ring: PhantomData,
        })
    }
}

impl fmt::Debug for RingSlot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            crate::sys::IORING_FILE_INDEX_ALLOC => {
                write!(f, "RingSlot(ring {}, ALLOC)", self.ring_fd)
            }
            n => write!(f, "RingSlot(ring {}, {})", self.ring_fd, n - 1),
        }
    }
}

// SAFETY: the target ring's descriptor (borrowed through the ring for the
// op's lifetime) and a slot number: no address.
unsafe impl SqeField<(i32, u32)> for RingSlot<'_> {
    #[inline(always)]
    fn into_field(self) -> (i32, u32) {
        (self.ring_fd, self.value)
    }
}
