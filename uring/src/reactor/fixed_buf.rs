//! Registered buffers the reactor owns: a pool of them registered with its
//! ring, lent out one at a time as owned buffers that fixed-buffer reads
//! and writes take.

use crate::mmap::Mapping;
use crate::reactor::buf::{IoBuf, IoBufMut, Slice, SliceMut};
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// The most buffers one table holds (`IORING_MAX_REG_BUFFERS`).
const MAX_BUFFERS: usize = 1 << 14;

/// The longest registered buffer the kernel takes (`SZ_1G`).
const MAX_BUFFER_LEN: usize = 1 << 30;

/// The pool's memory and which of its buffers are lent out.
pub(crate) struct Table {
    /// `count` buffers, each `stride` bytes from the last, zeroed at
    /// creation. Registered with the ring: the kernel pinned its pages.
    memory: Mapping,
    stride: usize,
    len: usize,
    count: u16,
    /// The buffers in the pool (not lent out), taken from the end.
    free: RefCell<Vec<u16>>,
}

impl Table {
    /// `count` zeroed buffers of `len` bytes, each starting on a page.
    pub(crate) fn new(count: u16, len: usize) -> io::Result<Table> {
        if count == 0 || len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a pool of {count} buffers of {len} bytes registers nothing"),
            ));
        }
        if usize::from(count) > MAX_BUFFERS || len > MAX_BUFFER_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{count} buffers of {len} bytes: the kernel registers at most {MAX_BUFFERS} buffers of at most {MAX_BUFFER_LEN} bytes"
                ),
            ));
        }
        let page = crate::builder::page_size();
        let stride = len.div_ceil(page) * page;
        let total = stride.checked_mul(usize::from(count)).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the pool's size overflows")
        })?;
        let memory = Mapping::anonymous(total)?;
        Ok(Table {
            memory,
            stride,
            len,
            count,
            free: RefCell::new((0..count).rev().collect()),
        })
    }

    /// The iovecs to register, one per buffer.
    pub(crate) fn iovecs(&self) -> Vec<io::IoSliceMut<'static>> {
        (0..self.count)
            .map(|index| {
                let iovec = libc::iovec {
                    iov_base: self.base(index).cast(),
                    iov_len: self.len,
                };
                // SAFETY: an `IoSliceMut` is an `iovec` on Unix (std's
                // guarantee); it is only handed to the kernel's
                // registration, never read as a slice.
                unsafe { std::mem::transmute::<libc::iovec, io::IoSliceMut<'static>>(iovec) }
            })
            .collect()
    }

    /// The first byte of buffer `index` (`index < count`).
    fn base(&self, index: u16) -> *mut u8 {
        // SAFETY: `index < count`, so the offset lies inside the mapping
        // of `count * stride` bytes.
        unsafe { self.memory.as_ptr().add(usize::from(index) * self.stride) }
    }

    /// Lends out buffer `index` if it is in the pool (an index past the
    /// table never is).
    fn take(self: &Rc<Table>, index: u16) -> Option<FixedBuffer> {
        let mut free = self.free.borrow_mut();
        let at = free.iter().rposition(|&i| i == index)?;
        free.swap_remove(at);
        Some(self.lend(index))
    }

    /// Lends out any buffer of the pool.
    fn take_any(self: &Rc<Table>) -> Option<FixedBuffer> {
        let index = self.free.borrow_mut().pop()?;
        Some(self.lend(index))
    }

    /// Buffer `index`, just taken out of the free list, empty.
    fn lend(self: &Rc<Table>, index: u16) -> FixedBuffer {
        FixedBuffer {
            table: Rc::clone(self),
            index,
            init: 0,
        }
    }
}

/// Registered buffers of a reactor's ring
/// ([`Handle::register_buffers`](crate::reactor::Handle::register_buffers)):
/// a pool that lends each out as a [`FixedBuffer`], an owned buffer that
/// the fixed-buffer ops ([`ReadFixed`](crate::reactor::ops::ReadFixed),
/// [`WriteFixed`](crate::reactor::ops::WriteFixed)) take. The kernel pinned
/// the buffers' pages once, at registration, so that these ops skip the
/// mapping of user memory that every other read and write pays for.
///
/// Cloning the pool gives another handle to the same buffers. The buffers
/// stay registered until
/// [`Handle::unregister_buffers`](crate::reactor::Handle::unregister_buffers)
/// takes the pool back (which it does only once every buffer is back in
/// it) or for the reactor's life; their memory is freed once the reactor,
/// the pool and every buffer lent out are gone.
#[derive(Clone)]
pub struct FixedBufPool {
    table: Rc<Table>,
}

impl FixedBufPool {
    pub(crate) fn new(table: Rc<Table>) -> FixedBufPool {
        FixedBufPool { table }
    }

    /// The table the pool lends from.
    pub(crate) fn table(&self) -> &Rc<Table> {
        &self.table
    }

    /// The number of buffers registered.
    pub fn len(&self) -> usize {
        usize::from(self.table.count)
    }

    /// Whether the pool has no buffer at all (never: a pool registers at
    /// least one).
    pub fn is_empty(&self) -> bool {
        self.table.count == 0
    }

    /// The length of each buffer.
    pub fn buf_len(&self) -> usize {
        self.table.len
    }

    /// How many buffers are in the pool now (not lent out).
    pub fn available(&self) -> usize {
        self.table.free.borrow().len()
    }

    /// Lends out a buffer of the pool, empty; `None` while all are lent
    /// out (a buffer comes back when its [`FixedBuffer`] is dropped, or
    /// the last completion of an op that owns it has been handled).
    pub fn take(&self) -> Option<FixedBuffer> {
        self.table.take_any()
    }

    /// Lends out the buffer at `index`, empty; `None` if it is lent out
    /// or there is no such buffer.
    pub fn take_index(&self, index: u16) -> Option<FixedBuffer> {
        self.table.take(index)
    }
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufPool")
            .field("len", &self.len())
            .field("buf_len", &self.buf_len())
            .field("available", &self.available())
            .finish()
    }
}

/// A registered buffer lent out by a [`FixedBufPool`]: owned memory, page
/// aligned, of the pool's [`buf_len`](FixedBufPool::buf_len) bytes, of
/// which the first [`len`](FixedBuffer::len) hold data (what reads left,
/// or what the program wrote in). It derefs to those bytes. As with a
/// `Vec`, a read fills from the start and never shortens the data: a short
/// read into a buffer that held more leaves the bytes past it as they were
/// ([`clear`](FixedBuffer::clear) it first to have the read's bytes alone).
///
/// Fixed-buffer ops take it (whole, or a [`Slice`] or [`SliceMut`] of it)
/// and give it back with their completion; any other op of the reactor
/// takes it too, as the owned buffer it is. Dropping it gives it back to
/// its pool.
///
/// A buffer of one reactor given to a fixed-buffer op of another names a
/// slot of the other ring's table, which does not hold its memory: the
/// kernel fails the op with `EFAULT` and touches nothing.
pub struct FixedBuffer {
    table: Rc<Table>,
    index: u16,
    /// The bytes that hold data, from the first.
    init: usize,
}

impl FixedBuffer {
    /// The buffer's index in its ring's table of registered buffers.
    pub fn buf_index(&self) -> u16 {
        self.index
    }

    /// How many bytes hold data.
    pub fn len(&self) -> usize {
        self.init
    }

    /// Whether no byte holds data.
    pub fn is_empty(&self) -> bool {
        self.init == 0
    }

    /// The whole buffer's size: what a read may fill.
    pub fn capacity(&self) -> usize {
        self.table.len
    }

    /// Shortens the data to `len` bytes (no effect if it is shorter).
    pub fn truncate(&mut self, len: usize) {
        self.init = self.init.min(len);
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.init = 0;
    }

    /// Appends as much of `bytes` as fits; how many bytes were copied.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.capacity() - self.init);
        // SAFETY: the buffer is this value's alone while it lives (lent out
        // of the pool, and no op holds it: an op owns the value); `init +
        // n <= capacity`, inside the buffer; `bytes` is the program's own
        // memory, not the buffer's (a `&[u8]` cannot alias the `&mut self`).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.table.base(self.index).add(self.init),
                n,
            );
        }
        self.init += n;
        n
    }
}

impl Deref for FixedBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the buffer's `init` bytes, inside it; its memory is
        // zeroed at creation and written only by this value's owner or a
        // kernel op that owned it, so every byte is initialised.
        unsafe { std::slice::from_raw_parts(self.table.base(self.index), self.init) }
    }
}

impl DerefMut for FixedBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` is the only way to the
        // buffer while it is lent out.
        unsafe { std::slice::from_raw_parts_mut(self.table.base(self.index), self.init) }
    }
}

impl Drop for FixedBuffer {
    fn drop(&mut self) {
        self.table.free.borrow_mut().push(self.index);
    }
}

impl fmt::Debug for FixedBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuffer")
            .field("buf_index", &self.index)
            .field("len", &self.init)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the buffer's memory is a mapping the value keeps alive (through
// its table), which never moves; while the value is neither moved nor
// accessed mutably, its `init` bytes do not change.
unsafe impl IoBuf for FixedBuffer {
    fn stable_ptr(&self) -> *const u8 {
        self.table.base(self.index)
    }
    fn bytes_init(&self) -> usize {
        self.init
    }
}

// SAFETY: as for `IoBuf`, for the whole buffer, which is all initialised
// (zeroed at creation); `set_init` records how many bytes hold data.
unsafe impl IoBufMut for FixedBuffer {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.table.base(self.index)
    }
    fn bytes_total(&self) -> usize {
        self.table.len
    }
    unsafe fn set_init(&mut self, n: usize) {
        // As a `Vec`'s length: a read never shortens the data.
        self.init = self.init.max(n.min(self.table.len));
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An owned buffer that lies inside a registered buffer: what the
/// fixed-buffer ops take. A [`FixedBuffer`], or a [`Slice`] or
/// [`SliceMut`] of one. Sealed: the index it names is the one its memory
/// was registered under.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a registered buffer a fixed-buffer op can name",
    label = "not a `FixedBuffer` or a slice of one",
    note = "take a buffer from a pool the reactor registered: `handle.register_buffers(count, len)?.take()`",
    note = "for a buffer of your own, use the plain op (`Read`, `Write`), which takes any owned buffer"
)]
pub trait FixedIoBuf: IoBuf + sealed::Sealed {
    /// The index, in its ring's table, of the registered buffer that holds
    /// the bytes.
    fn buf_index(&self) -> u16;
}

impl sealed::Sealed for FixedBuffer {}
impl FixedIoBuf for FixedBuffer {
    fn buf_index(&self) -> u16 {
        self.index
    }
}

impl sealed::Sealed for Slice<FixedBuffer> {}
impl FixedIoBuf for Slice<FixedBuffer> {
    fn buf_index(&self) -> u16 {
        self.get_ref().index
    }
}

impl sealed::Sealed for SliceMut<FixedBuffer> {}
impl FixedIoBuf for SliceMut<FixedBuffer> {
    fn buf_index(&self) -> u16 {
        self.get_ref().index
    }
}
