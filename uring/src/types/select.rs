//! Provided buffers: groups, selections, and regions cut into buffers.

use std::marker::PhantomData;

/// A provided-buffer group: the id under which `ProvideBuffers` (or a buffer
/// ring) hands buffers to the kernel, and from which ops select one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferGroup(u16);

impl BufferGroup {
    /// The group `id`.
    pub const fn new(id: u16) -> BufferGroup {
        BufferGroup(id)
    }

    /// The group id.
    pub const fn id(self) -> u16 {
        self.0
    }

    /// A selection from this group of a buffer of at most `len` bytes, to
    /// pass to an op in place of its buffer.
    pub const fn select(self, len: u32) -> BufferSelect {
        BufferSelect { group: self, len }
    }
}

/// "Let the kernel pick a buffer from this group": passed to an op that can
/// select a provided buffer (`Read`, `Recv`) in place of a buffer. The op's
/// completion names the buffer it used ([`Cqe::buffer_id`](crate::Cqe::buffer_id)).
/// A group with no buffer registered fails a read or a receive with
/// `ENOBUFS`, a send with `ENOENT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferSelect {
    group: BufferGroup,
    len: u32,
}

impl BufferSelect {
    /// A selection from `group` of at most `len` bytes.
    pub const fn new(group: BufferGroup, len: u32) -> BufferSelect {
        BufferSelect { group, len }
    }

    /// The group.
    pub const fn group(self) -> BufferGroup {
        self.group
    }

    /// The most bytes the op may transfer.
    pub const fn len(self) -> u32 {
        self.len
    }

    /// Whether the selection allows zero bytes.
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// A region cut into `count` buffers of `buf_len` bytes, for
/// [`ProvideBuffers`](crate::ops::ProvideBuffers). Bytes past the last whole
/// buffer are not provided.
#[derive(Debug)]
pub struct BufferPool<'a> {
    addr: u64,
    buf_len: u32,
    count: u32,
    _bytes: PhantomData<&'a mut [u8]>,
}

impl<'a> BufferPool<'a> {
    /// Cuts `region` into buffers of `buf_len` bytes each.
    pub fn new(region: &'a mut [u8], buf_len: u32) -> BufferPool<'a> {
        let count = match buf_len {
            0 => 0,
            n => (region.len() / n as usize).min(u32::MAX as usize) as u32,
        };
        BufferPool {
            addr: region.as_mut_ptr() as u64,
            buf_len,
            count,
            _bytes: PhantomData,
        }
    }

    pub(crate) fn addr(&self) -> u64 {
        self.addr
    }

    /// The size of each buffer.
    pub fn buf_len(&self) -> u32 {
        self.buf_len
    }

    /// How many buffers the region holds.
    pub fn count(&self) -> u32 {
        self.count
    }
}
