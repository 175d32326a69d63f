//! The reactor's ops: each owns its memory and its descriptor, and gives
//! back what it owns (a buffer, an accepted socket) with its completion.
//!
//! Each is built here from the ring's typed ops ([`crate::ops`](mod@crate::ops)) over the
//! memory it owns; this module is the one place that does.

use crate::ops as raw;
use crate::reactor::buf::{IoBuf, IoBufMut};
use crate::reactor::fd::SharedFd;
use crate::reactor::fixed_buf::FixedIoBuf;
use crate::reactor::op::{Completion, MultishotEnded, MultishotOp, Op};
use crate::reactor::ring_buf::{BufGroup, RingBuf};
use crate::types::{BufferSelect, SockAddr, SockAddrBuf};
use crate::{AcceptFlags, MsgFlags, MsgHdr, MsgHdrMut, PollEvents, PollFlags, RecvFlags, Timespec};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::{self, MaybeUninit};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

mod msg;

pub use self::msg::{MAX_CONTROL_LEN, ReceivedMsg, RecvMsg, SendMsg};

/// The most one op moves: Linux's `MAX_RW_COUNT` (`INT_MAX` rounded down to
/// a 4 KiB page), to which reads and writes clamp themselves, and past
/// which a send or a receive, whose length the kernel keeps in an `int`,
/// fails with `EINVAL` rather than move a part. An op over a longer buffer
/// is given this much of it, and completes short, as `read(2)` and
/// `write(2)` do.
const MAX_TRANSFER: usize = 0x7fff_f000;

/// The bytes a read may fill, as the ring's ops take them (at most
/// [`MAX_TRANSFER`]).
///
/// # Safety
///
/// The slice aliases `buf`'s memory: the caller uses it only for an SQE
/// over memory that `buf`'s owner keeps unmoved until the op's last
/// completion.
#[inline(always)]
unsafe fn spare<'a, B: IoBufMut>(buf: &mut B) -> &'a mut [MaybeUninit<u8>] {
    let len = buf.bytes_total().min(MAX_TRANSFER);
    // SAFETY: the buffer's contract: `bytes_total` writable bytes at
    // `stable_mut_ptr`, which do not move while the buffer is not moved;
    // `len` is no more.
    unsafe { std::slice::from_raw_parts_mut(buf.stable_mut_ptr().cast(), len) }
}

/// The bytes a write sends, as the ring's ops take them (at most
/// [`MAX_TRANSFER`]).
///
/// # Safety
///
/// As for [`spare`].
#[inline(always)]
unsafe fn bytes<'a, B: IoBuf>(buf: &B) -> &'a [u8] {
    let len = buf.bytes_init().min(MAX_TRANSFER);
    // SAFETY: the buffer's contract: `bytes_init` initialised bytes at
    // `stable_ptr`, stable while the buffer is neither moved nor changed;
    // `len` is no more.
    unsafe { std::slice::from_raw_parts(buf.stable_ptr(), len) }
}

/// The iovecs of a vectored write or send: one per buffer, over the bytes
/// it holds.
///
/// # Safety
///
/// As for [`bytes`], for every buffer: the slices must be dropped before a
/// buffer moves or changes.
unsafe fn iovecs_of<B: IoBuf>(bufs: &[B]) -> Vec<IoSlice<'static>> {
    bufs.iter()
        // SAFETY: the caller's.
        .map(|buf| IoSlice::new(unsafe { bytes(buf) }))
        .collect()
}

/// The bytes a read may fill, as an iovec for vectored ops and message
/// headers: built from the pointer and length, not through a `&mut [u8]`,
/// which would claim bytes not yet written (a vector's spare capacity) as
/// initialised.
///
/// # Safety
///
/// As for [`spare`]; the result is only handed to the kernel, never read as
/// a slice, and dropped with the op.
#[inline(always)]
unsafe fn spare_iovec<B: IoBufMut>(buf: &mut B) -> IoSliceMut<'static> {
    let iovec = libc::iovec {
        iov_base: buf.stable_mut_ptr().cast(),
        iov_len: buf.bytes_total().min(MAX_TRANSFER),
    };
    // SAFETY: an `IoSliceMut` is an `iovec` (std guarantees the ABI on
    // Unix); the caller uses it only as the kernel's iovec.
    unsafe { std::mem::transmute::<libc::iovec, IoSliceMut<'static>>(iovec) }
}

/// Records that a read wrote the first `res` bytes of `buf` (none at the
/// end of the stream, which empties a buffer whose length is the count);
/// a failed read changes nothing.
#[inline(always)]
fn filled<B: IoBufMut>(buf: &mut B, res: i32) {
    if res >= 0 {
        let n = (res as usize).min(buf.bytes_total());
        // SAFETY: the kernel wrote the first `n` bytes.
        unsafe { buf.set_init(n) };
    }
}

/// Does nothing, and completes with 0.
/// (Linux 5.1.)
#[derive(Debug, Default, Clone, Copy)]
pub struct Nop;

// SAFETY: a NOP points to no memory and names no descriptor.
unsafe impl Op for Nop {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Nop;
    #[inline(always)]
    fn sqe(&mut self) -> raw::Nop {
        raw::Nop::new()
    }
    #[inline(always)]
    fn complete(self, _: Completion) {}
}

/// Reads into `buf` at `offset` (`u64::MAX`: at the file position), like
/// `pread(2)`; completes with the byte count and gives the buffer back,
/// its first bytes filled.
/// (Linux 5.6.)
#[derive(Debug)]
pub struct Read<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: IoBufMut> Read<B> {
    /// A read of `fd` into `buf` at `offset`.
    pub fn new(fd: &SharedFd, buf: B, offset: u64) -> Read<B> {
        Read {
            fd: fd.clone(),
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE points into `buf`, which the op owns, and names `fd`,
// which the op keeps open.
unsafe impl<B: IoBufMut> Op for Read<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::Read<'a, crate::Fd<'a>, &'a mut [MaybeUninit<u8>]>;
    #[inline(always)]
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the reactor keeps the op, and so the buffer, unmoved
        // until the last completion.
        raw::Read::new(self.fd.owned(), unsafe { spare(&mut self.buf) }).offset(self.offset)
    }
    #[inline(always)]
    fn complete(mut self, completion: Completion) -> B {
        filled(&mut self.buf, completion.res);
        self.buf
    }
}

/// Writes `buf` at `offset` (`u64::MAX`: at the file position), like
/// `pwrite(2)`; completes with the byte count and gives the buffer back.
/// (Linux 5.6.)
#[derive(Debug)]
pub struct Write<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: IoBuf> Write<B> {
    /// A write of `buf` to `fd` at `offset`.
    pub fn new(fd: &SharedFd, buf: B, offset: u64) -> Write<B> {
        Write {
            fd: fd.clone(),
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE points into `buf`, which the op owns, and names `fd`,
// which the op keeps open.
unsafe impl<B: IoBuf> Op for Write<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::Write<'a, crate::Fd<'a>>;
    #[inline(always)]
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the reactor keeps the op unmoved until the last
        // completion.
        raw::Write::new(self.fd.owned(), unsafe { bytes(&self.buf) }).offset(self.offset)
    }
    #[inline(always)]
    fn complete(self, _: Completion) -> B {
        self.buf
    }
}

/// Reads into a registered buffer at `offset` (`u64::MAX`: at the file
/// position), like [`Read`] (`IORING_OP_READ_FIXED`): the kernel uses the
/// pages it pinned when the buffer was registered
/// ([`Handle::register_buffers`](crate::reactor::Handle::register_buffers))
/// instead of mapping the buffer for this read. Completes with the byte
/// count and gives the buffer back, its first bytes filled. A buffer of
/// another reactor's pool fails with `EFAULT`.
/// (Linux 5.1.)
#[derive(Debug)]
pub struct ReadFixed<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: FixedIoBuf + IoBufMut> ReadFixed<B> {
    /// A read of `fd` into the registered buffer `buf` at `offset`.
    pub fn new(fd: &SharedFd, buf: B, offset: u64) -> ReadFixed<B> {
        ReadFixed {
            fd: fd.clone(),
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE points into `buf`, which the op owns, names the
// registered buffer that holds it, and names `fd`, which the op keeps
// open; the bytes are initialised (a registered buffer is zeroed at
// creation), so a `&mut [u8]` over them is sound.
unsafe impl<B: FixedIoBuf + IoBufMut> Op for ReadFixed<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::ReadFixed<'a, crate::Fd<'a>>;
    #[inline(always)]
    fn sqe(&mut self) -> Self::Sqe<'_> {
        let index = crate::args::FixedBuf(self.buf.buf_index());
        let len = self.buf.bytes_total().min(MAX_TRANSFER);
        // SAFETY: the buffer's contract: `bytes_total` writable bytes at
        // `stable_mut_ptr`, unmoved until the last completion (the reactor
        // keeps the op); a registered buffer's bytes are all initialised.
        let bytes = unsafe { std::slice::from_raw_parts_mut(self.buf.stable_mut_ptr(), len) };
        raw::ReadFixed::new(self.fd.owned(), bytes, index).offset(self.offset)
    }
    #[inline(always)]
    fn complete(mut self, completion: Completion) -> B {
        filled(&mut self.buf, completion.res);
        self.buf
    }
}

/// Writes a registered buffer's bytes at `offset` (`u64::MAX`: at the file
/// position), like [`Write`] (`IORING_OP_WRITE_FIXED`), through the pages
/// the kernel pinned at registration. Completes with the byte count and
/// gives the buffer back. A buffer of another reactor's pool fails with
/// `EFAULT`.
/// (Linux 5.1.)
#[derive(Debug)]
pub struct WriteFixed<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: FixedIoBuf> WriteFixed<B> {
    /// A write of the registered buffer `buf` to `fd` at `offset`.
    pub fn new(fd: &SharedFd, buf: B, offset: u64) -> WriteFixed<B> {
        WriteFixed {
            fd: fd.clone(),
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE points into `buf`, which the op owns, names the
// registered buffer that holds it, and names `fd`, which the op keeps open.
unsafe impl<B: FixedIoBuf> Op for WriteFixed<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::WriteFixed<'a, crate::Fd<'a>>;
    #[inline(always)]
    fn sqe(&mut self) -> Self::Sqe<'_> {
        let index = crate::args::FixedBuf(self.buf.buf_index());
        // SAFETY: the reactor keeps the op unmoved until the last
        // completion.
        raw::WriteFixed::new(self.fd.owned(), unsafe { bytes(&self.buf) }, index)
            .offset(self.offset)
    }
    #[inline(always)]
    fn complete(self, _: Completion) -> B {
        self.buf
    }
}

/// Reads into several buffers in turn at `offset` (`u64::MAX`: at the file
/// position), like `preadv2(2)`: each is filled to its
/// [`bytes_total`](IoBufMut::bytes_total) before the next. Completes with
/// the byte count and gives the buffers back, each with what it received
/// marked filled.
/// (Linux 5.1.)
pub struct ReadV<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    offset: u64,
    iovecs: Vec<IoSliceMut<'static>>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for ReadV<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the iovecs: they point into the buffers, and into bytes a
        // read has not written yet.
        f.debug_struct("ReadV")
            .field("fd", &self.fd)
            .field("bufs", &self.bufs)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<B: IoBufMut> ReadV<B> {
    /// A read of `fd` into `bufs` at `offset`.
    pub fn new(fd: &SharedFd, bufs: Vec<B>, offset: u64) -> ReadV<B> {
        ReadV {
            fd: fd.clone(),
            bufs,
            offset,
            iovecs: Vec::new(),
        }
    }
}

// SAFETY: the SQE points to the iovec array, a vector of the op, whose
// entries point into the buffers the op owns (their bytes stay put while
// the op is not moved, and the reactor does not move it until the
// completion); it names `fd`, which the op keeps open.
unsafe impl<B: IoBufMut> Op for ReadV<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = Vec<B>;
    type Sqe<'a> = raw::ReadV<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        self.iovecs = self
            .bufs
            .iter_mut()
            // SAFETY: the buffers do not move while the op does not; the
            // iovecs go to the kernel alone and are dropped with the op.
            .map(|buf| unsafe { spare_iovec(buf) })
            .collect();
        raw::ReadV::new(self.fd.owned(), &mut self.iovecs[..]).offset(self.offset)
    }
    fn complete(mut self, completion: Completion) -> Vec<B> {
        self.iovecs = Vec::new();
        if completion.res >= 0 {
            let mut left = completion.res as usize;
            for buf in &mut self.bufs {
                let n = left.min(buf.bytes_total());
                filled(buf, n as i32);
                left -= n;
            }
        }
        self.bufs
    }
}

/// Writes several buffers in turn at `offset` (`u64::MAX`: at the file
/// position), like `pwritev2(2)`; completes with the byte count and gives
/// the buffers back.
/// (Linux 5.1.)
pub struct WriteV<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    offset: u64,
    iovecs: Vec<IoSlice<'static>>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for WriteV<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the iovecs: they point into the buffers, and into bytes a
        // read has not written yet.
        f.debug_struct("WriteV")
            .field("fd", &self.fd)
            .field("bufs", &self.bufs)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<B: IoBuf> WriteV<B> {
    /// A write of `bufs` to `fd` at `offset`.
    pub fn new(fd: &SharedFd, bufs: Vec<B>, offset: u64) -> WriteV<B> {
        WriteV {
            fd: fd.clone(),
            bufs,
            offset,
            iovecs: Vec::new(),
        }
    }
}

// SAFETY: as for `ReadV`, with bytes the kernel only reads.
unsafe impl<B: IoBuf> Op for WriteV<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = Vec<B>;
    type Sqe<'a> = raw::WriteV<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the buffers do not move while the op does not, and the
        // slices are dropped with the op.
        self.iovecs = unsafe { iovecs_of(&self.bufs) };
        raw::WriteV::new(self.fd.owned(), &self.iovecs[..]).offset(self.offset)
    }
    fn complete(mut self, _: Completion) -> Vec<B> {
        self.iovecs = Vec::new();
        self.bufs
    }
}

/// Receives into `buf` from a socket, like `recv(2)`; completes with the
/// byte count (0 at the end of the stream) and gives the buffer back.
/// (Linux 5.6.)
#[derive(Debug)]
pub struct Recv<B> {
    fd: SharedFd,
    buf: B,
    flags: MsgFlags,
}

impl<B: IoBufMut> Recv<B> {
    /// A receive from `fd` into `buf`.
    pub fn new(fd: &SharedFd, buf: B) -> Recv<B> {
        Recv {
            fd: fd.clone(),
            buf,
            flags: MsgFlags::empty(),
        }
    }

    /// `MSG_*` flags of `recv(2)`, but `MSG_TRUNC`, which is dropped: on
    /// a stream socket it discards the bytes, and the count the receive
    /// completes with would stand for bytes the buffer never got.
    pub fn flags(mut self, flags: MsgFlags) -> Recv<B> {
        let bits = flags.bits() & !libc::MSG_TRUNC;
        self.flags = MsgFlags::from_bits(bits).unwrap_or(MsgFlags::empty());
        self
    }
}

// SAFETY: the SQE points into `buf`, which the op owns, and names `fd`,
// which the op keeps open.
unsafe impl<B: IoBufMut> Op for Recv<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::Recv<'a, crate::Fd<'a>, &'a mut [MaybeUninit<u8>]>;
    #[inline(always)]
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the reactor keeps the op unmoved until the last
        // completion.
        raw::Recv::new(self.fd.owned(), unsafe { spare(&mut self.buf) }).msg_flags(self.flags)
    }
    #[inline(always)]
    fn complete(mut self, completion: Completion) -> B {
        filled(&mut self.buf, completion.res);
        self.buf
    }
}

/// Sends `buf` on a socket, like `send(2)` with `MSG_NOSIGNAL`; completes
/// with the byte count and gives the buffer back.
/// (Linux 5.6.)
#[derive(Debug)]
pub struct Send<B> {
    fd: SharedFd,
    buf: B,
    flags: MsgFlags,
}

impl<B: IoBuf> Send<B> {
    /// A send of `buf` on `fd`.
    pub fn new(fd: &SharedFd, buf: B) -> Send<B> {
        Send {
            fd: fd.clone(),
            buf,
            flags: MsgFlags::NOSIGNAL,
        }
    }

    /// `MSG_*` flags of `send(2)` (`MSG_NOSIGNAL` unless set otherwise).
    pub fn flags(mut self, flags: MsgFlags) -> Send<B> {
        self.flags = flags;
        self
    }
}

// SAFETY: the SQE points into `buf`, which the op owns, and names `fd`,
// which the op keeps open.
unsafe impl<B: IoBuf> Op for Send<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::Send<'a, crate::Fd<'a>>;
    #[inline(always)]
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the reactor keeps the op unmoved until the last
        // completion.
        raw::Send::new(self.fd.owned(), unsafe { bytes(&self.buf) }).msg_flags(self.flags)
    }
    #[inline(always)]
    fn complete(self, _: Completion) -> B {
        self.buf
    }
}

/// Sends several buffers on a socket in one go, in order
/// (`IORING_SEND_VECTORIZED`, 6.17), with `MSG_NOSIGNAL`; completes with
/// the byte count and gives the buffers back. A kernel without vectored
/// sends completes it with `EINVAL`.
pub struct SendV<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    flags: MsgFlags,
    iovecs: Vec<IoSlice<'static>>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for SendV<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the iovecs: they point into the buffers.
        f.debug_struct("SendV")
            .field("fd", &self.fd)
            .field("bufs", &self.bufs)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl<B: IoBuf> SendV<B> {
    /// A send of `bufs` on `fd`.
    pub fn new(fd: &SharedFd, bufs: Vec<B>) -> SendV<B> {
        SendV {
            fd: fd.clone(),
            bufs,
            flags: MsgFlags::NOSIGNAL,
            iovecs: Vec::new(),
        }
    }

    /// `MSG_*` flags of `send(2)` (`MSG_NOSIGNAL` unless set otherwise).
    pub fn flags(mut self, flags: MsgFlags) -> SendV<B> {
        self.flags = flags;
        self
    }
}

// SAFETY: as for `WriteV`: the iovecs point into the buffers, which the op
// owns and which do not move while it does not; the kernel only reads
// them; the op keeps `fd` open.
unsafe impl<B: IoBuf> Op for SendV<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = Vec<B>;
    type Sqe<'a> = raw::SendV<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the buffers do not move while the op does not, and the
        // slices are dropped with the op.
        self.iovecs = unsafe { iovecs_of(&self.bufs) };
        raw::SendV::new(self.fd.owned(), &self.iovecs[..]).msg_flags(self.flags)
    }
    fn complete(mut self, _: Completion) -> Vec<B> {
        self.iovecs = Vec::new();
        self.bufs
    }
}

/// Sends `buf` without copying it (`IORING_OP_SEND_ZC`): completes with
/// the byte count once the kernel's notification says it is done with the
/// buffer, which then comes back.
/// (Linux 6.0.)
#[derive(Debug)]
pub struct SendZc<B> {
    fd: SharedFd,
    buf: B,
}

impl<B: IoBuf> SendZc<B> {
    /// A zero-copy send of `buf` on `fd`.
    pub fn new(fd: &SharedFd, buf: B) -> SendZc<B> {
        SendZc {
            fd: fd.clone(),
            buf,
        }
    }
}

// SAFETY: the SQE points into `buf`, which the op owns until the last
// completion (the notification), and names `fd`, which the op keeps open.
unsafe impl<B: IoBuf> Op for SendZc<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::SendZc<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the reactor keeps the op unmoved until the last
        // completion.
        raw::SendZc::new(self.fd.owned(), unsafe { bytes(&self.buf) }).msg_flags(MsgFlags::NOSIGNAL)
    }
    fn complete(self, _: Completion) -> B {
        self.buf
    }
}

/// Sends a registered buffer's bytes without copying them
/// (`IORING_OP_SEND_ZC` with `IORING_RECVSEND_FIXED_BUF`): the kernel
/// sends from the pages it pinned when the buffer was registered
/// ([`Handle::register_buffers`](crate::reactor::Handle::register_buffers))
/// rather than pinning them for this send, as [`SendZc`] does. Completes
/// with the byte count once the kernel's notification says it is done with
/// the buffer, which then comes back. A buffer of another reactor's pool
/// fails with `EFAULT`, sending nothing.
/// (Linux 6.0.)
#[derive(Debug)]
pub struct SendZcFixed<B> {
    fd: SharedFd,
    buf: B,
}

impl<B: FixedIoBuf> SendZcFixed<B> {
    /// A zero-copy send of the registered buffer `buf` on `fd`.
    pub fn new(fd: &SharedFd, buf: B) -> SendZcFixed<B> {
        SendZcFixed {
            fd: fd.clone(),
            buf,
        }
    }
}

// SAFETY: the SQE points into `buf`, which the op owns until the last
// completion (the notification), names the registered buffer that holds
// it, and names `fd`, which the op keeps open.
unsafe impl<B: FixedIoBuf> Op for SendZcFixed<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::SendZcFixed<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        let index = crate::args::FixedBuf(self.buf.buf_index());
        // SAFETY: the reactor keeps the op unmoved until the last
        // completion.
        raw::SendZcFixed::new(self.fd.owned(), unsafe { bytes(&self.buf) }, index)
            .msg_flags(MsgFlags::NOSIGNAL)
    }
    fn complete(self, _: Completion) -> B {
        self.buf
    }
}

/// Receives into a buffer the kernel picks from a reactor's buffer ring;
/// completes with the byte count, and the buffer (`None` at the end of
/// the stream, or on an error).
/// (Linux 5.19, buffer rings.)
#[derive(Debug)]
pub struct RecvRing {
    fd: SharedFd,
    group: BufGroup,
}

impl RecvRing {
    /// A receive from `fd` into a buffer of `group`.
    pub fn new(fd: &SharedFd, group: BufGroup) -> RecvRing {
        RecvRing {
            fd: fd.clone(),
            group,
        }
    }
}

// SAFETY: the SQE selects a buffer of a ring the reactor keeps, and names
// `fd`, which the op keeps open.
unsafe impl Op for RecvRing {
    type Output = Option<RingBuf>;
    type Sqe<'a> = raw::Recv<'a, crate::Fd<'a>, BufferSelect>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Recv::new(self.fd.owned(), self.group.group.select(self.group.len))
    }
    fn complete(self, mut completion: Completion) -> Option<RingBuf> {
        completion.take_buf()
    }
}

/// Receives again and again into buffers the kernel picks from a reactor's
/// buffer ring (`IORING_RECV_MULTISHOT`): each item is a filled buffer,
/// `Ok(None)` at the end of the stream (on a datagram socket, at an empty
/// datagram, which ends the op), or the error that ended the op
/// (`ENOBUFS` when the ring ran dry: queue it again once buffers are back).
/// (Linux 6.0.)
#[derive(Debug)]
pub struct RecvMulti {
    fd: SharedFd,
    group: BufGroup,
}

impl RecvMulti {
    /// A multishot receive from `fd` into buffers of `group`.
    pub fn new(fd: &SharedFd, group: BufGroup) -> RecvMulti {
        RecvMulti {
            fd: fd.clone(),
            group,
        }
    }
}

// SAFETY: the SQE selects buffers of a ring the reactor keeps, and names
// `fd`, which the op keeps open.
unsafe impl MultishotOp for RecvMulti {
    type Item = io::Result<Option<RingBuf>>;
    type Sqe<'a> = raw::Recv<'a, crate::Fd<'a>, BufferSelect>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Recv::new(self.fd.owned(), self.group.group.select(0)).recv_flags(RecvFlags::MULTISHOT)
    }
    fn item(&mut self, mut completion: Completion) -> Self::Item {
        match completion.result() {
            Err(e) => Err(e),
            Ok(0) => Ok(None),
            Ok(_) => completion
                .take_buf()
                .map(Some)
                .ok_or_else(|| io::Error::other("a receive named no buffer of its ring")),
        }
    }
    fn ended(&mut self, res: i32) -> Option<Self::Item> {
        // After data: 0 is the end of the stream, and an error its own end.
        (res > 0).then(|| Err(MultishotEnded::error()))
    }
}

/// The descriptor a completion of an op that makes one (an accept, an
/// open) gave.
fn made_fd(completion: &Completion) -> io::Result<OwnedFd> {
    let fd = completion.result()?;
    // SAFETY: such an op's result is a new descriptor that nothing else
    // owns (the completion is the kernel's: it named a live slot).
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Accepts a connection on a listening socket, like `accept4(2)` with
/// `SOCK_CLOEXEC`; completes with the new socket's descriptor, owned in
/// the output.
/// (Linux 5.5.)
#[derive(Debug)]
pub struct Accept {
    fd: SharedFd,
}

impl Accept {
    /// An accept on `fd`.
    pub fn new(fd: &SharedFd) -> Accept {
        Accept { fd: fd.clone() }
    }
}

// SAFETY: the SQE points to no memory (no peer address) and names `fd`,
// which the op keeps open.
unsafe impl Op for Accept {
    const SELECTS_BUFFER: bool = false;
    type Output = Option<OwnedFd>;
    type Sqe<'a> = raw::Accept<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Accept::new(self.fd.owned()).accept_flags(libc::SOCK_CLOEXEC)
    }
    fn complete(self, completion: Completion) -> Option<OwnedFd> {
        made_fd(&completion).ok()
    }
}

/// Accepts a connection as [`Accept`] does, and gives the peer's address
/// with the new socket (`None` for an address of another family than IPv4
/// and IPv6, such as a Unix socket's).
/// Completes with the new socket's descriptor. (Linux 5.5.)
#[derive(Debug)]
pub struct AcceptFrom {
    fd: SharedFd,
    peer: SockAddrBuf,
}

impl AcceptFrom {
    /// An accept on `fd` that records the peer's address.
    pub fn new(fd: &SharedFd) -> AcceptFrom {
        AcceptFrom {
            fd: fd.clone(),
            peer: SockAddrBuf::new(),
        }
    }
}

// SAFETY: the SQE points to the address buffer and its length word, a
// field of the op, which the reactor keeps unmoved until the completion;
// it names `fd`, which the op keeps open.
unsafe impl Op for AcceptFrom {
    const SELECTS_BUFFER: bool = false;
    type Output = Option<(OwnedFd, Option<SocketAddr>)>;
    type Sqe<'a> = raw::Accept<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Accept::new(self.fd.owned())
            .peer(Some(&mut self.peer))
            .accept_flags(libc::SOCK_CLOEXEC)
    }
    fn complete(self, completion: Completion) -> Self::Output {
        let fd = made_fd(&completion).ok()?;
        Some((fd, self.peer.socket_addr()))
    }
}

/// Accepts connections until cancelled (`IORING_ACCEPT_MULTISHOT`): each
/// item is a new socket, or the error that ended the op.
/// Each socket is owned by its item. (Linux 5.19.)
#[derive(Debug)]
pub struct AcceptMulti {
    fd: SharedFd,
}

impl AcceptMulti {
    /// A multishot accept on `fd`.
    pub fn new(fd: &SharedFd) -> AcceptMulti {
        AcceptMulti { fd: fd.clone() }
    }
}

// SAFETY: as for `Accept`.
unsafe impl MultishotOp for AcceptMulti {
    type Item = io::Result<OwnedFd>;
    type Sqe<'a> = raw::Accept<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Accept::new(self.fd.owned())
            .accept_flags(libc::SOCK_CLOEXEC)
            .iou_flags(AcceptFlags::MULTISHOT)
    }
    fn item(&mut self, completion: Completion) -> Self::Item {
        made_fd(&completion)
    }
    fn ended(&mut self, res: i32) -> Option<Self::Item> {
        (res >= 0).then(|| Err(MultishotEnded::error()))
    }
}

/// Connects a socket to an address, like `connect(2)`.
/// Completes with 0, or the error `connect(2)` would give (`ECONNREFUSED`,
/// ...). (Linux 5.5.)
#[derive(Debug)]
pub struct Connect {
    fd: SharedFd,
    addr: SockAddr,
}

impl Connect {
    /// A connect of `fd` to `addr`.
    pub fn new(fd: &SharedFd, addr: SocketAddr) -> Connect {
        Connect::with_addr(fd, SockAddr::from(addr))
    }

    /// A connect of `fd` to an address in the kernel's layout: a
    /// Unix-domain one ([`SockAddr::unix`]) as well as an IP one.
    pub fn with_addr(fd: &SharedFd, addr: SockAddr) -> Connect {
        Connect {
            fd: fd.clone(),
            addr,
        }
    }
}

// SAFETY: the SQE points to `addr`, which the op owns, and names `fd`,
// which the op keeps open.
unsafe impl Op for Connect {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Connect<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Connect::new(self.fd.owned(), &self.addr)
    }
    fn complete(self, _: Completion) {}
}

/// Shuts down part of a connection, like `shutdown(2)`.
/// Completes with 0, or the error `shutdown(2)` would give (`ENOTCONN`,
/// ...). (Linux 5.11.)
#[derive(Debug)]
pub struct Shutdown {
    fd: SharedFd,
    how: i32,
}

impl Shutdown {
    /// A shutdown of `fd`: `libc::SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    pub fn new(fd: &SharedFd, how: i32) -> Shutdown {
        Shutdown {
            fd: fd.clone(),
            how,
        }
    }
}

// SAFETY: the SQE names `fd`, which the op keeps open.
unsafe impl Op for Shutdown {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Shutdown<crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Shutdown::new(self.fd.owned(), self.how)
    }
    fn complete(self, _: Completion) {}
}

/// Completes after a while, or at a deadline, with `ETIME`.
/// (Linux 5.4.)
#[derive(Debug, Clone, Copy)]
pub struct Timeout {
    time: Timespec,
    flags: crate::TimeoutFlags,
}

impl Timeout {
    /// A timeout of `after`, counted from when the kernel takes the SQE
    /// (at the reactor's next submit, which may come later than the
    /// call).
    pub fn new(after: Duration) -> Timeout {
        Timeout {
            time: Timespec::from(after),
            flags: crate::TimeoutFlags::empty(),
        }
    }

    /// A timeout that fires at `deadline`, however late the kernel takes
    /// the SQE (an absolute time on `CLOCK_MONOTONIC`, `Instant`'s clock;
    /// in a time namespace with an offset, which kernels before the fix
    /// leave out of absolute times, the time left now, counted from the
    /// submit). A deadline passed fires at once.
    pub fn at(deadline: Instant) -> Timeout {
        let deadline = crate::reactor::core::Deadline::new(deadline);
        Timeout {
            time: deadline.at,
            flags: deadline.flags,
        }
    }
}

// SAFETY: the timespec lives in the ring until the SQE is consumed.
unsafe impl Op for Timeout {
    const SELECTS_BUFFER: bool = false;
    // A timeout takes nothing from anyone: its cancel waits for the next
    // submit (a `Handle::timeout` whose future won drops its timer).
    const CANCEL_AT_ONCE: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Timeout;
    fn sqe(&mut self) -> raw::Timeout {
        raw::Timeout::new(self.time).timeout_flags(self.flags)
    }
    fn complete(self, _: Completion) {}
}

/// Waits until a descriptor is ready for `events`; completes with the
/// events that are.
/// (Linux 5.1.)
#[derive(Debug)]
pub struct Poll {
    fd: SharedFd,
    events: PollEvents,
}

impl Poll {
    /// A poll of `fd` for `events`.
    pub fn new(fd: &SharedFd, events: PollEvents) -> Poll {
        Poll {
            fd: fd.clone(),
            events,
        }
    }
}

// SAFETY: the SQE names `fd`, which the op keeps open.
unsafe impl Op for Poll {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::PollAdd<crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::PollAdd::new(self.fd.owned(), self.events)
    }
    fn complete(self, _: Completion) {}
}

/// Polls a descriptor until cancelled (`IORING_POLL_ADD_MULTI`): each item
/// is the events ready at a wake-up.
/// (Linux 5.13.)
#[derive(Debug)]
pub struct PollMulti {
    fd: SharedFd,
    events: PollEvents,
}

impl PollMulti {
    /// A multishot poll of `fd` for `events`.
    pub fn new(fd: &SharedFd, events: PollEvents) -> PollMulti {
        PollMulti {
            fd: fd.clone(),
            events,
        }
    }
}

// SAFETY: the SQE names `fd`, which the op keeps open.
unsafe impl MultishotOp for PollMulti {
    type Item = io::Result<PollEvents>;
    type Sqe<'a> = raw::PollAdd<crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::PollAdd::new(self.fd.owned(), self.events).poll_flags(PollFlags::MULTI)
    }
    fn item(&mut self, completion: Completion) -> Self::Item {
        completion.result().map(PollEvents::from_bits_truncate)
    }
    fn ended(&mut self, res: i32) -> Option<Self::Item> {
        (res >= 0).then(|| Err(MultishotEnded::error()))
    }
}

/// Sends `buf` to `addr` on an unconnected datagram socket, like
/// `sendto(2)`.
/// Completes with the byte count and gives the buffer back. (Linux 5.3.)
pub struct SendTo<B> {
    fd: SharedFd,
    buf: B,
    addr: SockAddr,
    iov: [IoSlice<'static>; 1],
    msg: Option<MsgHdr<'static>>,
}

impl<B: IoBuf> SendTo<B> {
    /// A send of `buf` to `addr` on `fd`.
    pub fn new(fd: &SharedFd, buf: B, addr: SocketAddr) -> SendTo<B> {
        SendTo::with_addr(fd, buf, SockAddr::from(addr))
    }

    /// A send of `buf` on `fd` to an address in the kernel's layout: a
    /// Unix-domain one ([`SockAddr::unix`]) as well as an IP one.
    pub fn with_addr(fd: &SharedFd, buf: B, addr: SockAddr) -> SendTo<B> {
        SendTo {
            fd: fd.clone(),
            buf,
            addr,
            iov: [IoSlice::new(&[])],
            msg: None,
        }
    }
}

// SAFETY: the header, the iovec and the address are fields of the op,
// which the reactor keeps unmoved until the last completion; the iovec
// points into `buf`, which the op owns; `fd` is kept open by the op.
unsafe impl<B: IoBuf> Op for SendTo<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::SendMsg<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the buffer does not move while the op does not.
        self.iov = [IoSlice::new(unsafe { bytes(&self.buf) })];
        // SAFETY: the header points to fields of `self`, which stay where
        // they are until the op's last completion (the reactor does not
        // move the op); it is not used after the op moves.
        let (iov, addr): (&'static [IoSlice<'static>], &'static SockAddr) =
            unsafe { (&*(&self.iov[..] as *const _), &*(&self.addr as *const _)) };
        let msg = self.msg.insert(MsgHdr::new(iov).to(addr));
        raw::SendMsg::new(self.fd.owned(), &*msg).msg_flags(MsgFlags::NOSIGNAL)
    }
    fn complete(self, _: Completion) -> B {
        self.buf
    }
}

impl<B> std::fmt::Debug for SendTo<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendTo")
            .field("fd", &self.fd)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Receives a datagram into `buf`, with its sender's address, like
/// `recvfrom(2)`; gives back the buffer and the address: an IP one
/// (`A = SocketAddr`, from [`new`](RecvFrom::new)) or a Unix-domain one
/// (`A = std::os::unix::net::SocketAddr`, from [`unix`](RecvFrom::unix)).
/// Completes with the byte count (a datagram longer than the buffer is cut
/// to it). (Linux 5.3.)
pub struct RecvFrom<B, A: SenderAddr = SocketAddr> {
    fd: SharedFd,
    buf: B,
    from: SockAddrBuf,
    iov: [IoSliceMut<'static>; 1],
    msg: Option<MsgHdrMut<'static>>,
    _addr: std::marker::PhantomData<fn() -> A>,
}

/// The kinds of sender address a [`RecvFrom`] reads: `std::net::SocketAddr`
/// and `std::os::unix::net::SocketAddr`.
#[diagnostic::on_unimplemented(
    message = "a `RecvFrom` cannot read a sender's address as `{Self}`",
    label = "not a kind of socket address",
    note = "use `std::net::SocketAddr` (`RecvFrom::new`) or `std::os::unix::net::SocketAddr` (`RecvFrom::unix`)"
)]
pub trait SenderAddr: sealed::Sealed + Sized + 'static {
    /// The address the kernel wrote for a receive on `socket`, if it is of
    /// this kind.
    #[doc(hidden)]
    fn read(from: &SockAddrBuf, socket: &SharedFd) -> Option<Self>;
}

mod sealed {
    /// Only the address kinds of this module read senders.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a sender's address kind: only the two of `std` are",
        label = "not `std::net::SocketAddr` or `std::os::unix::net::SocketAddr`"
    )]
    pub trait Sealed {}
}

impl sealed::Sealed for SocketAddr {}
impl sealed::Sealed for std::os::unix::net::SocketAddr {}

impl SenderAddr for SocketAddr {
    fn read(from: &SockAddrBuf, _: &SharedFd) -> Option<Self> {
        from.socket_addr()
    }
}

impl SenderAddr for std::os::unix::net::SocketAddr {
    fn read(from: &SockAddrBuf, socket: &SharedFd) -> Option<Self> {
        // No address at all is an unbound sender's on a Unix-domain
        // socket, and nothing on any other.
        if from.len() == 0 && !is_unix_domain(socket) {
            return None;
        }
        from.unix_addr()
    }
}

/// Whether `socket` is a Unix-domain socket (`SO_DOMAIN`).
fn is_unix_domain(socket: &SharedFd) -> bool {
    socket_option(socket.as_fd(), libc::SO_DOMAIN) == Some(libc::AF_UNIX)
}

/// The integer socket option `name` (at `SOL_SOCKET`) of `fd`, or `None`
/// if it cannot be read.
fn socket_option(fd: BorrowedFd<'_>, name: libc::c_int) -> Option<libc::c_int> {
    crate::net::get_option(fd, libc::SOL_SOCKET, name).ok()
}

impl<B: IoBufMut> RecvFrom<B> {
    /// A receive from `fd` into `buf`, with an IP sender's address.
    pub fn new(fd: &SharedFd, buf: B) -> RecvFrom<B> {
        RecvFrom::any(fd, buf)
    }
}

impl<B: IoBufMut> RecvFrom<B, std::os::unix::net::SocketAddr> {
    /// A receive from the Unix-domain datagram socket `fd` into `buf`,
    /// with its sender's address.
    pub fn unix(fd: &SharedFd, buf: B) -> RecvFrom<B, std::os::unix::net::SocketAddr> {
        RecvFrom::any(fd, buf)
    }
}

impl<B: IoBufMut, A: SenderAddr> RecvFrom<B, A> {
    fn any(fd: &SharedFd, buf: B) -> RecvFrom<B, A> {
        RecvFrom {
            fd: fd.clone(),
            buf,
            from: SockAddrBuf::new(),
            iov: [IoSliceMut::new(&mut [])],
            msg: None,
            _addr: std::marker::PhantomData,
        }
    }
}

// SAFETY: as for `SendTo`, with the address written by the kernel into
// `from`, a field of the op.
unsafe impl<B: IoBufMut, A: SenderAddr> Op for RecvFrom<B, A> {
    const SELECTS_BUFFER: bool = false;
    type Output = (B, Option<A>);
    type Sqe<'a> = raw::RecvMsg<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the buffer's writable bytes, stable while the op does not
        // move; the iovec goes to the kernel alone, which writes its bytes
        // before anything reads them.
        self.iov = [unsafe { spare_iovec(&mut self.buf) }];
        // SAFETY: as for `SendTo`: fields of `self`, unmoved until the last
        // completion, and not used through the header after the op moves.
        let (iov, from): (&'static mut [IoSliceMut<'static>], &'static mut SockAddrBuf) = unsafe {
            (
                &mut *(&mut self.iov[..] as *mut _),
                &mut *(&mut self.from as *mut _),
            )
        };
        let msg = self.msg.insert(MsgHdrMut::new(iov).from(from));
        raw::RecvMsg::new(self.fd.owned(), msg)
    }
    fn complete(mut self, completion: Completion) -> (B, Option<A>) {
        filled(&mut self.buf, completion.res);
        // The kernel wrote the address's length into the header.
        let name_len = self.msg.take().map(|msg| msg.name_len());
        let from = match name_len {
            Some(len) if completion.res >= 0 => {
                self.from.set_len(len);
                A::read(&self.from, &self.fd)
            }
            _ => None,
        };
        (self.buf, from)
    }
}

impl<B, A: SenderAddr> std::fmt::Debug for RecvFrom<B, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvFrom")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

/// The most descriptors one message passes (`SCM_MAX_FD`).
pub const MAX_FDS: usize = 253;

/// `SCM_PIDFD` (Linux 6.5): the pidfd of the sender, which the kernel
/// installs for a receiver with `SO_PASSPIDFD`.
const SCM_PIDFD: i32 = 0x04;

/// Room, in 8-byte words (the alignment of a `cmsghdr`), for one
/// `SCM_RIGHTS` record of `n` descriptors.
fn rights_words(n: usize) -> usize {
    let header = mem::size_of::<libc::cmsghdr>();
    (header + n * mem::size_of::<i32>()).div_ceil(8)
}

/// `SO_PASSPIDFD` (Linux 6.5).
const SO_PASSPIDFD: i32 = 76;

/// Room, in 8-byte words, for a credentials record (`SO_PASSCRED`, a
/// `struct ucred`).
fn credentials_words() -> usize {
    (mem::size_of::<libc::cmsghdr>() + mem::size_of::<libc::ucred>()).div_ceil(8)
}

/// Room, in 8-byte words, for a record of `payload` bytes.
fn record_words(payload: usize) -> usize {
    (mem::size_of::<libc::cmsghdr>() + payload).div_ceil(8)
}

/// The room of a security label (`SO_PASSSEC`), whose length the socket
/// does not tell: an LSM's context is a short string.
const SECURITY_LABEL_ROOM: usize = 256;

/// Room, in 8-byte words, for the records `fd`'s options add to every
/// message besides the descriptors, so that they do not take the
/// descriptors' room (the kernel writes them first, and closes the
/// descriptors that no longer fit): credentials (`SO_PASSCRED`), the
/// sender's pidfd (`SO_PASSPIDFD`), a security label (`SO_PASSSEC`), and
/// a receive timestamp (`SO_TIMESTAMP` or `SO_TIMESTAMPNS`, old or new:
/// 16 bytes), with the three timespecs of `SO_TIMESTAMPING` beside it,
/// which a Unix socket writes only then (`__unix_dgram_recvmsg` stamps a
/// message only for a receiver with `SOCK_RCVTSTAMP`).
fn option_records_words(fd: BorrowedFd<'_>) -> usize {
    let on = |name| socket_option(fd, name).is_some_and(|value| value != 0);
    let mut words = 0;
    let stamped = [
        libc::SO_TIMESTAMP,
        libc::SO_TIMESTAMPNS,
        libc::SO_TIMESTAMP_NEW,
        libc::SO_TIMESTAMPNS_NEW,
    ]
    .into_iter()
    .any(on);
    if stamped {
        words += record_words(16);
        if on(libc::SO_TIMESTAMPING) {
            words += record_words(48);
        }
    }
    if on(libc::SO_PASSCRED) {
        words += credentials_words();
    }
    if on(SO_PASSPIDFD) {
        words += rights_words(1);
    }
    if on(libc::SO_PASSSEC) {
        words += record_words(SECURITY_LABEL_ROOM);
    }
    words
}

/// Sends `buf` on a Unix socket with descriptors, like `sendmsg(2)` with an
/// `SCM_RIGHTS` record (and `MSG_NOSIGNAL`): the peer receives new
/// descriptors of the same files. The op owns the descriptors, so they are
/// open whenever the kernel reads the message, and gives them back with
/// the buffer. At most [`MAX_FDS`] descriptors (more fail with `EINVAL`).
/// Sockets of other families ignore the record: the peer gets the bytes
/// alone.
/// Completes with the byte count. (Linux 5.3.)
pub struct SendWithFds<B> {
    fd: SharedFd,
    buf: B,
    fds: Vec<OwnedFd>,
    control: Vec<u64>,
    iov: [IoSlice<'static>; 1],
    msg: Option<MsgHdr<'static>>,
}

impl<B: IoBuf> SendWithFds<B> {
    /// A send of `buf` with `fds` on `fd`.
    pub fn new(fd: &SharedFd, buf: B, fds: Vec<OwnedFd>) -> SendWithFds<B> {
        SendWithFds {
            fd: fd.clone(),
            buf,
            fds,
            control: Vec::new(),
            iov: [IoSlice::new(&[])],
            msg: None,
        }
    }
}

// SAFETY: the header, the iovec and the control record are fields of the
// op, unmoved until the last completion; the iovec points into `buf`, and
// the record names the descriptors of `fds`, all owned by the op (so open
// for as long as the kernel may read the message); `fd` is kept open.
unsafe impl<B: IoBuf> Op for SendWithFds<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = (B, Vec<OwnedFd>);
    type Sqe<'a> = raw::SendMsg<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the buffer does not move while the op does not.
        self.iov = [IoSlice::new(unsafe { bytes(&self.buf) })];
        let mut msg = MsgHdr::new(
            // SAFETY: a field of `self`, unmoved until the last completion,
            // and not used through the header after the op moves.
            unsafe { &*(&self.iov[..] as *const [IoSlice<'static>]) },
        );
        if !self.fds.is_empty() {
            let n = self.fds.len();
            let header = mem::size_of::<libc::cmsghdr>();
            self.control = vec![0u64; rights_words(n)];
            let record = self.control.as_mut_ptr().cast::<u8>();
            let cmsg = libc::cmsghdr {
                cmsg_len: (header + n * mem::size_of::<i32>()) as _,
                cmsg_level: libc::SOL_SOCKET,
                cmsg_type: libc::SCM_RIGHTS,
            };
            // SAFETY: the vector holds `header + 4 n` bytes at least, and
            // is 8-aligned, as a `cmsghdr` is.
            unsafe {
                record.cast::<libc::cmsghdr>().write(cmsg);
                let data = record.add(header).cast::<i32>();
                for (i, f) in self.fds.iter().enumerate() {
                    data.add(i).write_unaligned(f.as_raw_fd());
                }
            }
            let len = header + n * mem::size_of::<i32>();
            // SAFETY: the record's bytes are a field of `self`, as above.
            let control: &'static [u8] =
                unsafe { std::slice::from_raw_parts(record.cast_const(), len) };
            // SAFETY: the one record names descriptors `self.fds` owns, which
            // stay open until the op is done with (the reactor drops the op
            // after its last completion).
            msg = unsafe { msg.control_unchecked(control) };
        }
        let msg = self.msg.insert(msg);
        raw::SendMsg::new(self.fd.owned(), &*msg).msg_flags(MsgFlags::NOSIGNAL)
    }
    fn complete(mut self, _: Completion) -> (B, Vec<OwnedFd>) {
        self.msg = None;
        (self.buf, self.fds)
    }
}

impl<B> std::fmt::Debug for SendWithFds<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendWithFds")
            .field("fd", &self.fd)
            .field("fds", &self.fds)
            .finish_non_exhaustive()
    }
}

/// Receives into `buf` from a Unix socket, with the descriptors the
/// message passes (`SCM_RIGHTS`), like `recvmsg(2)` with
/// `MSG_CMSG_CLOEXEC`: completes with the byte count and gives back the
/// buffer, its first bytes filled, and each descriptor received, owned. The
/// record's room is the op's own, and only the kernel writes it, so every
/// descriptor handed out is one the kernel just made for this process.
/// Room is made for `max_fds` of them (at most [`MAX_FDS`]; rounded up to
/// whole 8-byte words, so one more may fit), besides the records the
/// socket's options add (credentials, a pidfd, a security label, receive
/// timestamps), as they stand when the op is submitted; the kernel closes
/// those of a message that do not fit (and flags the message
/// `MSG_CTRUNC`, which the output does not carry: fewer descriptors than
/// the peer sent is how it shows). A pidfd the kernel passes for `SO_PASSPIDFD`
/// (`SCM_PIDFD`) is closed: the output holds the message's descriptors
/// alone.
/// (Linux 5.3.)
pub struct RecvWithFds<B> {
    fd: SharedFd,
    buf: B,
    max_fds: usize,
    control: Box<[u64]>,
    iov: [IoSliceMut<'static>; 1],
    msg: Option<MsgHdrMut<'static>>,
}

impl<B: IoBufMut> RecvWithFds<B> {
    /// A receive from `fd` into `buf`, with room for `max_fds` descriptors.
    pub fn new(fd: &SharedFd, buf: B, max_fds: usize) -> RecvWithFds<B> {
        RecvWithFds {
            fd: fd.clone(),
            buf,
            max_fds: max_fds.min(MAX_FDS),
            control: Box::new([]),
            iov: [IoSliceMut::new(&mut [])],
            msg: None,
        }
    }
}

// SAFETY: as for `RecvFrom`, with the control room, a field of the op that
// the kernel writes, in place of the address.
unsafe impl<B: IoBufMut> Op for RecvWithFds<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = (B, Vec<OwnedFd>);
    type Sqe<'a> = raw::RecvMsg<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: as in `RecvFrom`: an iovec handed only to the kernel.
        self.iov = [unsafe { spare_iovec(&mut self.buf) }];
        let words = rights_words(self.max_fds) + option_records_words(self.fd.as_fd());
        self.control = vec![0u64; words].into_boxed_slice();
        let bytes = words * 8;
        // SAFETY: fields of `self`, unmoved until the last completion, and
        // not used through the header after the op moves; the control room
        // is plain bytes the kernel may overwrite.
        let (iov, control): (&'static mut [IoSliceMut<'static>], &'static mut [u8]) = unsafe {
            (
                &mut *(&mut self.iov[..] as *mut _),
                std::slice::from_raw_parts_mut(self.control.as_mut_ptr().cast::<u8>(), bytes),
            )
        };
        let msg = self.msg.insert(MsgHdrMut::new(iov).control(control));
        raw::RecvMsg::new(self.fd.owned(), msg).msg_flags(MsgFlags::CMSG_CLOEXEC)
    }
    fn complete(mut self, completion: Completion) -> (B, Vec<OwnedFd>) {
        filled(&mut self.buf, completion.res);
        let written = match &self.msg {
            Some(msg) if completion.res >= 0 => msg.control_len().min(self.control.len() * 8),
            _ => 0,
        };
        self.msg = None;
        // SAFETY: the room is the op's, 8-aligned, and `written` of its
        // bytes are what the kernel wrote for this completion.
        let control =
            unsafe { std::slice::from_raw_parts(self.control.as_ptr().cast::<u8>(), written) };
        (self.buf, received_fds(control))
    }
}

/// The descriptors of the `SCM_RIGHTS` records in `control`, as the kernel
/// wrote them for a completed receive, owned; the pidfd of an `SCM_PIDFD`
/// record is closed.
fn received_fds(control: &[u8]) -> Vec<OwnedFd> {
    let mut fds = Vec::new();
    for (level, kind, data) in crate::args::cmsg_records(control) {
        if level != libc::SOL_SOCKET || (kind != libc::SCM_RIGHTS && kind != SCM_PIDFD) {
            continue;
        }
        for raw in data.chunks_exact(mem::size_of::<i32>()) {
            let n = i32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
            // Where the kernel could not make the pidfd (a full descriptor
            // table), `scm_pidfd_recv` writes the negative errno in its
            // place: no descriptor was installed.
            if n < 0 {
                continue;
            }
            // SAFETY: the kernel installed this descriptor in the process
            // for this receive, and wrote its number only into the op's own
            // room, read once here.
            let fd = unsafe { OwnedFd::from_raw_fd(n) };
            if kind == libc::SCM_RIGHTS {
                fds.push(fd);
            }
        }
    }
    fds
}

impl<B> std::fmt::Debug for RecvWithFds<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvWithFds")
            .field("fd", &self.fd)
            .field("room", &(self.control.len() * 8))
            .finish_non_exhaustive()
    }
}

/// Flushes a file's data and metadata to its device, like `fsync(2)`, or
/// its data alone, like `fdatasync(2)`; completes with 0.
/// (Linux 5.1.)
#[derive(Debug)]
pub struct Fsync {
    fd: SharedFd,
    data_only: bool,
}

impl Fsync {
    /// An `fsync` of `fd`.
    pub fn new(fd: &SharedFd) -> Fsync {
        Fsync {
            fd: fd.clone(),
            data_only: false,
        }
    }

    /// An `fdatasync` of `fd` (`IORING_FSYNC_DATASYNC`).
    pub fn data(fd: &SharedFd) -> Fsync {
        Fsync {
            fd: fd.clone(),
            data_only: true,
        }
    }
}

// SAFETY: the SQE points to no memory and names `fd`, which the op keeps
// open.
unsafe impl Op for Fsync {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Fsync<crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        let flags = if self.data_only {
            crate::FsyncFlags::DATASYNC
        } else {
            crate::FsyncFlags::empty()
        };
        raw::Fsync::new(self.fd.owned()).fsync_flags(flags)
    }
    fn complete(self, _: Completion) {}
}

/// Moves up to `len` bytes from `input` to `output`, one of them a pipe,
/// like `splice(2)`, without a copy through the program: from a file or
/// socket into a pipe, or from a pipe into a file or socket. Completes
/// with the bytes moved (0 at the end of the input). Offsets are
/// `u64::MAX` (the default) for the descriptor's own position, the one a
/// pipe or a socket takes (any other fails with `ESPIPE`). Blocking
/// splices go to an io-wq worker.
/// (Linux 5.7.)
#[derive(Debug)]
pub struct Splice {
    input: SharedFd,
    output: SharedFd,
    len: u32,
    offset_in: u64,
    offset_out: u64,
    flags: crate::SpliceFlags,
}

impl Splice {
    /// A splice of up to `len` bytes from `input` to `output`, at their
    /// positions.
    pub fn new(input: &SharedFd, output: &SharedFd, len: u32) -> Splice {
        Splice {
            input: input.clone(),
            output: output.clone(),
            len,
            offset_in: u64::MAX,
            offset_out: u64::MAX,
            flags: crate::SpliceFlags::empty(),
        }
    }

    /// Reads the input at `offset` (a file's; its position stays).
    pub fn offset_in(mut self, offset: u64) -> Splice {
        self.offset_in = offset;
        self
    }

    /// Writes the output at `offset` (a file's; its position stays).
    pub fn offset_out(mut self, offset: u64) -> Splice {
        self.offset_out = offset;
        self
    }

    /// `SPLICE_F_*` flags (`MOVE`, `NONBLOCK`, `MORE`).
    pub fn flags(mut self, flags: crate::SpliceFlags) -> Splice {
        self.flags = flags;
        self
    }
}

// SAFETY: the SQE points to no memory and names `input` and `output`,
// which the op keeps open.
unsafe impl Op for Splice {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Splice<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Splice::new(self.output.owned(), self.input.owned(), self.len)
            .offset_in(self.offset_in)
            .offset_out(self.offset_out)
            .splice_flags(self.flags)
    }
    fn complete(self, _: Completion) {}
}

/// Copies up to `len` bytes from the pipe `input` to the pipe `output`
/// without consuming them, like `tee(2)`. Completes with the bytes copied
/// (0 with the input empty and its write end closed).
/// (Linux 5.8.)
#[derive(Debug)]
pub struct Tee {
    input: SharedFd,
    output: SharedFd,
    len: u32,
    flags: crate::SpliceFlags,
}

impl Tee {
    /// A copy of up to `len` bytes from the pipe `input` to the pipe
    /// `output`.
    pub fn new(input: &SharedFd, output: &SharedFd, len: u32) -> Tee {
        Tee {
            input: input.clone(),
            output: output.clone(),
            len,
            flags: crate::SpliceFlags::empty(),
        }
    }

    /// `SPLICE_F_*` flags (`NONBLOCK`).
    pub fn flags(mut self, flags: crate::SpliceFlags) -> Tee {
        self.flags = flags;
        self
    }
}

// SAFETY: the SQE points to no memory and names `input` and `output`,
// which the op keeps open.
unsafe impl Op for Tee {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Tee<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Tee::new(self.output.owned(), self.input.owned(), self.len).splice_flags(self.flags)
    }
    fn complete(self, _: Completion) {}
}

/// Allocates (or, with `FALLOC_FL_*` modes, punches or zeroes) `len` bytes
/// of a file from `offset`, like `fallocate(2)`; completes with 0.
/// (Linux 5.6.)
#[derive(Debug)]
pub struct Fallocate {
    fd: SharedFd,
    offset: u64,
    len: u64,
    mode: i32,
}

impl Fallocate {
    /// An allocation of `len` bytes of `fd` from `offset`.
    pub fn new(fd: &SharedFd, offset: u64, len: u64) -> Fallocate {
        Fallocate {
            fd: fd.clone(),
            offset,
            len,
            mode: 0,
        }
    }

    /// The `FALLOC_FL_*` mode (`FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`,
    /// ...); 0 allocates.
    pub fn mode(mut self, mode: i32) -> Fallocate {
        self.mode = mode;
        self
    }
}

// SAFETY: the SQE points to no memory and names `fd`, which the op keeps
// open.
unsafe impl Op for Fallocate {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Fallocate<crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Fallocate::new(self.fd.owned(), self.len)
            .offset(self.offset)
            .mode(self.mode)
    }
    fn complete(self, _: Completion) {}
}

/// Truncates or extends a file to `len` bytes, like `ftruncate(2)`;
/// completes with 0. (Linux 6.9.)
#[derive(Debug)]
pub struct Ftruncate {
    fd: SharedFd,
    len: u64,
}

impl Ftruncate {
    /// A truncation of `fd` to `len` bytes.
    pub fn new(fd: &SharedFd, len: u64) -> Ftruncate {
        Ftruncate {
            fd: fd.clone(),
            len,
        }
    }
}

// SAFETY: the SQE points to no memory and names `fd`, which the op keeps
// open.
unsafe impl Op for Ftruncate {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::Ftruncate<crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Ftruncate::new(self.fd.owned(), self.len)
    }
    fn complete(self, _: Completion) {}
}

/// Opens `path`, relative to a directory or to the working directory, like
/// `openat(2)` with `O_CLOEXEC`; completes with the new descriptor, owned
/// in the output. Of a FIFO, as [`ops::OpenAt`](crate::ops::OpenAt) says:
/// without `O_CREAT`, `O_TRUNC` or `O_TMPFILE`, an open for writing with no
/// reader fails with `ENXIO` and one for reading with no writer does not
/// wait.
/// (Linux 5.6.)
#[derive(Debug)]
pub struct OpenAt {
    dir: Option<SharedFd>,
    path: std::ffi::CString,
    flags: i32,
    mode: u32,
}

impl OpenAt {
    /// An open of `path` (relative to the working directory) with the
    /// `O_*` `flags` (`O_CLOEXEC` is always added) and, for a file it
    /// creates, `mode`.
    pub fn new(path: std::ffi::CString, flags: i32, mode: u32) -> OpenAt {
        OpenAt {
            dir: None,
            path,
            flags: flags | libc::O_CLOEXEC,
            mode,
        }
    }

    /// The open of a path relative to the directory `dir`.
    pub fn in_dir(mut self, dir: &SharedFd) -> OpenAt {
        self.dir = Some(dir.clone());
        self
    }
}

// SAFETY: the SQE points to the path, owned by the op (a `CString`, whose
// bytes do not move with it), and names the directory, which the op keeps
// open, or `AT_FDCWD`.
unsafe impl Op for OpenAt {
    const SELECTS_BUFFER: bool = false;
    type Output = Option<OwnedFd>;
    type Sqe<'a> = raw::OpenAt<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::OpenAt::new(dir_of(&self.dir), &self.path)
            .open_flags(self.flags)
            .mode(self.mode)
    }
    fn complete(self, completion: Completion) -> Option<OwnedFd> {
        made_fd(&completion).ok()
    }
}

/// Creates a socket, like `socket(2)` with `SOCK_CLOEXEC`; completes with
/// its descriptor, owned in the output. (Linux 5.19.)
#[derive(Debug, Clone, Copy)]
pub struct Socket {
    domain: i32,
    socket_type: i32,
    protocol: i32,
}

impl Socket {
    /// A socket of `domain` (`AF_INET`, `AF_INET6`, `AF_UNIX`) and
    /// `socket_type` (`SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_SEQPACKET`, or-ed
    /// with `SOCK_NONBLOCK` if wanted; `SOCK_CLOEXEC` is always added),
    /// with the domain's default protocol. Another domain fails with
    /// `EAFNOSUPPORT`, another type with `EINVAL`.
    pub fn new(domain: i32, socket_type: i32) -> Socket {
        Socket {
            domain,
            socket_type: socket_type | libc::SOCK_CLOEXEC,
            protocol: 0,
        }
    }

    /// The protocol (`IPPROTO_*`) instead of the domain's default.
    pub fn protocol(mut self, protocol: i32) -> Socket {
        self.protocol = protocol;
        self
    }
}

// SAFETY: the SQE points to no memory and names no file.
unsafe impl Op for Socket {
    const SELECTS_BUFFER: bool = false;
    type Output = Option<OwnedFd>;
    type Sqe<'a> = raw::Socket<'static>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Socket::new(self.domain, self.socket_type).protocol(self.protocol)
    }
    fn complete(self, completion: Completion) -> Option<OwnedFd> {
        made_fd(&completion).ok()
    }
}

/// Creates a pipe, like `pipe2(2)` with `O_CLOEXEC`; completes with 0 and
/// the two ends, read end first, owned in the output. (Linux 6.16.)
#[derive(Debug)]
pub struct Pipe {
    flags: i32,
    /// Where the kernel writes the ends' numbers: owned by the op, on the
    /// heap, unmoved until the completion.
    fds: Box<[RawFd; 2]>,
}

impl Pipe {
    /// A pipe with `O_CLOEXEC`.
    pub fn new() -> Pipe {
        Pipe {
            flags: libc::O_CLOEXEC,
            fds: Box::new([-1; 2]),
        }
    }

    /// `O_NONBLOCK` and `O_DIRECT` (a packet pipe), added to `O_CLOEXEC`.
    /// `O_NOTIFICATION_PIPE` (the bits of `O_EXCL`) asks for a notification
    /// pipe, which a kernel built without `CONFIG_WATCH_QUEUE` refuses
    /// (`ENOPKG`); another flag fails with `EINVAL`.
    pub fn flags(mut self, flags: i32) -> Pipe {
        self.flags = flags | libc::O_CLOEXEC;
        self
    }
}

impl Default for Pipe {
    fn default() -> Pipe {
        Pipe::new()
    }
}

// SAFETY: the SQE points to the boxed pair the kernel writes the ends'
// numbers to, owned by the op and unmoved (heap memory) until its
// completion; it asks for regular descriptors, and names no file.
unsafe impl Op for Pipe {
    const SELECTS_BUFFER: bool = false;
    type Output = Option<(OwnedFd, OwnedFd)>;
    type Sqe<'a> = raw::Pipe<'a>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Pipe::new(&mut *self.fds).pipe_flags(self.flags)
    }
    fn complete(self, completion: Completion) -> Option<(OwnedFd, OwnedFd)> {
        if completion.result().ok()? != 0 {
            return None;
        }
        let [read, write] = *self.fds;
        // SAFETY: the completion is the kernel's for this op (see
        // `made_fd`), and a result of 0 says the kernel opened both ends
        // for it and wrote their numbers to the op's pair, which nothing
        // else writes: they are the op's alone, handed out once (the op is
        // consumed).
        Some(unsafe { (OwnedFd::from_raw_fd(read), OwnedFd::from_raw_fd(write)) })
    }
}

/// Reads the status of `path`, relative to a directory or to the working
/// directory (or of a descriptor itself), like `statx(2)`; completes with
/// 0 and gives back the `statx` the kernel filled.
/// (Linux 5.6.)
pub struct Statx {
    dir: Option<SharedFd>,
    path: std::ffi::CString,
    flags: i32,
    mask: u32,
    out: Box<libc::statx>,
}

impl Statx {
    /// The status of `path`, relative to the working directory, with the
    /// basic fields (`STATX_BASIC_STATS`).
    pub fn new(path: std::ffi::CString) -> Statx {
        Statx {
            dir: None,
            path,
            flags: 0,
            mask: libc::STATX_BASIC_STATS,
            // SAFETY: all-zero bytes are a valid `statx` (plain integers).
            out: Box::new(unsafe { mem::zeroed() }),
        }
    }

    /// The status of the file `fd` names (`AT_EMPTY_PATH`).
    pub fn of(fd: &SharedFd) -> Statx {
        let mut statx = Statx::new(std::ffi::CString::default());
        statx.dir = Some(fd.clone());
        statx.flags = libc::AT_EMPTY_PATH;
        statx
    }

    /// The status of a path relative to the directory `dir`.
    pub fn in_dir(mut self, dir: &SharedFd) -> Statx {
        self.dir = Some(dir.clone());
        self
    }

    /// The `AT_*` flags (`AT_SYMLINK_NOFOLLOW`, ...), added to those set.
    pub fn flags(mut self, flags: i32) -> Statx {
        self.flags |= flags;
        self
    }

    /// The `STATX_*` fields wanted.
    pub fn mask(mut self, mask: u32) -> Statx {
        self.mask = mask;
        self
    }
}

// SAFETY: the SQE points to the path (a `CString` the op owns) and to the
// boxed `statx` the kernel writes, both owned by the op and unmoved (heap
// memory) until the completion; it names the directory, which the op keeps
// open, or `AT_FDCWD`.
unsafe impl Op for Statx {
    const SELECTS_BUFFER: bool = false;
    type Output = Box<libc::statx>;
    type Sqe<'a> = raw::Statx<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::Statx::new(dir_of(&self.dir), &self.path, &mut self.out)
            .statx_flags(self.flags)
            .mask(self.mask)
    }
    fn complete(self, _: Completion) -> Box<libc::statx> {
        self.out
    }
}

impl std::fmt::Debug for Statx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statx")
            .field("dir", &self.dir)
            .field("path", &self.path)
            .field("flags", &self.flags)
            .field("mask", &self.mask)
            .finish_non_exhaustive()
    }
}

/// The directory an op's path is relative to: `dir`, or the working
/// directory.
fn dir_of(dir: &Option<SharedFd>) -> crate::Fd<'_> {
    match dir {
        Some(dir) => crate::Fd::new(dir.as_fd()),
        None => crate::Fd::CWD,
    }
}

/// Removes `path` (a directory, with [`dir`](UnlinkAt::dir)), relative to a
/// directory or to the working directory, like `unlinkat(2)`; completes
/// with 0.
/// (Linux 5.11.)
#[derive(Debug)]
pub struct UnlinkAt {
    dir: Option<SharedFd>,
    path: std::ffi::CString,
    flags: i32,
}

impl UnlinkAt {
    /// The removal of the file `path`.
    pub fn new(path: std::ffi::CString) -> UnlinkAt {
        UnlinkAt {
            dir: None,
            path,
            flags: 0,
        }
    }

    /// The removal of the empty directory `path` (`AT_REMOVEDIR`).
    pub fn dir(path: std::ffi::CString) -> UnlinkAt {
        UnlinkAt {
            dir: None,
            path,
            flags: libc::AT_REMOVEDIR,
        }
    }

    /// The path relative to the directory `dir`.
    pub fn in_dir(mut self, dir: &SharedFd) -> UnlinkAt {
        self.dir = Some(dir.clone());
        self
    }
}

// SAFETY: the SQE points to the path, a `CString` the op owns, and names
// the directory, which the op keeps open, or `AT_FDCWD`.
unsafe impl Op for UnlinkAt {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::UnlinkAt<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::UnlinkAt::new(dir_of(&self.dir), &self.path).unlink_flags(self.flags)
    }
    fn complete(self, _: Completion) {}
}

/// Renames `from` to `to`, each relative to a directory or to the working
/// directory, like `renameat2(2)` (`RENAME_*` flags with
/// [`flags`](RenameAt::flags)); completes with 0. With an `fsync` of the
/// directory after it, the atomic replacement of a file.
/// (Linux 5.11.)
#[derive(Debug)]
pub struct RenameAt {
    from_dir: Option<SharedFd>,
    from: std::ffi::CString,
    to_dir: Option<SharedFd>,
    to: std::ffi::CString,
    flags: u32,
}

impl RenameAt {
    /// The rename of `from` to `to`.
    pub fn new(from: std::ffi::CString, to: std::ffi::CString) -> RenameAt {
        RenameAt {
            from_dir: None,
            from,
            to_dir: None,
            to,
            flags: 0,
        }
    }

    /// Both paths relative to the directory `dir`.
    pub fn in_dir(self, dir: &SharedFd) -> RenameAt {
        self.from_dir(dir).to_dir(dir)
    }

    /// `from` relative to the directory `dir`.
    pub fn from_dir(mut self, dir: &SharedFd) -> RenameAt {
        self.from_dir = Some(dir.clone());
        self
    }

    /// `to` relative to the directory `dir`.
    pub fn to_dir(mut self, dir: &SharedFd) -> RenameAt {
        self.to_dir = Some(dir.clone());
        self
    }

    /// `RENAME_NOREPLACE`, `RENAME_EXCHANGE`, ...
    pub fn flags(mut self, flags: u32) -> RenameAt {
        self.flags = flags;
        self
    }
}

// SAFETY: the SQE points to the two paths, `CString`s the op owns, and
// names the directories, which the op keeps open, or `AT_FDCWD`.
unsafe impl Op for RenameAt {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::RenameAt<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::RenameAt::new(
            dir_of(&self.from_dir),
            &self.from,
            dir_of(&self.to_dir),
            &self.to,
        )
        .rename_flags(self.flags)
    }
    fn complete(self, _: Completion) {}
}

/// Creates `link` as a symbolic link to `target`, `link` relative to a
/// directory or to the working directory, like `symlinkat(2)`; completes
/// with 0. (`target` is stored as it is, not resolved.)
/// (Linux 5.15.)
#[derive(Debug)]
pub struct SymlinkAt {
    dir: Option<SharedFd>,
    target: std::ffi::CString,
    link: std::ffi::CString,
}

impl SymlinkAt {
    /// The link `link`, pointing to `target`.
    pub fn new(target: std::ffi::CString, link: std::ffi::CString) -> SymlinkAt {
        SymlinkAt {
            dir: None,
            target,
            link,
        }
    }

    /// `link` relative to the directory `dir`.
    pub fn in_dir(mut self, dir: &SharedFd) -> SymlinkAt {
        self.dir = Some(dir.clone());
        self
    }
}

// SAFETY: the SQE points to the two paths, `CString`s the op owns, and
// names the directory, which the op keeps open, or `AT_FDCWD`.
unsafe impl Op for SymlinkAt {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::SymlinkAt<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::SymlinkAt::new(dir_of(&self.dir), &self.target, &self.link)
    }
    fn complete(self, _: Completion) {}
}

/// Creates `to` as a hard link to the file `from`, each relative to a
/// directory or to the working directory, like `linkat(2)`; completes
/// with 0. (Linux 5.15.)
#[derive(Debug)]
pub struct LinkAt {
    from_dir: Option<SharedFd>,
    from: std::ffi::CString,
    to_dir: Option<SharedFd>,
    to: std::ffi::CString,
    flags: i32,
}

impl LinkAt {
    /// The link `to` of the file `from` (a symbolic link `from` is linked
    /// itself, not followed).
    pub fn new(from: std::ffi::CString, to: std::ffi::CString) -> LinkAt {
        LinkAt {
            from_dir: None,
            from,
            to_dir: None,
            to,
            flags: 0,
        }
    }

    /// `from` relative to the directory `dir`.
    pub fn from_dir(mut self, dir: &SharedFd) -> LinkAt {
        self.from_dir = Some(dir.clone());
        self
    }

    /// `to` relative to the directory `dir`.
    pub fn to_dir(mut self, dir: &SharedFd) -> LinkAt {
        self.to_dir = Some(dir.clone());
        self
    }

    /// `AT_SYMLINK_FOLLOW`: a symbolic link `from` is followed.
    pub fn flags(mut self, flags: i32) -> LinkAt {
        self.flags = flags;
        self
    }
}

// SAFETY: the SQE points to the two paths, `CString`s the op owns, and
// names the directories, which the op keeps open, or `AT_FDCWD`.
unsafe impl Op for LinkAt {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::LinkAt<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::LinkAt::new(
            dir_of(&self.from_dir),
            &self.from,
            dir_of(&self.to_dir),
            &self.to,
        )
        .hardlink_flags(self.flags)
    }
    fn complete(self, _: Completion) {}
}

/// Creates the directory `path`, relative to a directory or to the working
/// directory, like `mkdirat(2)`; completes with 0.
/// (Linux 5.15.)
#[derive(Debug)]
pub struct MkdirAt {
    dir: Option<SharedFd>,
    path: std::ffi::CString,
    mode: u32,
}

impl MkdirAt {
    /// The creation of `path` with the permissions `mode` (before the
    /// umask).
    pub fn new(path: std::ffi::CString, mode: u32) -> MkdirAt {
        MkdirAt {
            dir: None,
            path,
            mode,
        }
    }

    /// The path relative to the directory `dir`.
    pub fn in_dir(mut self, dir: &SharedFd) -> MkdirAt {
        self.dir = Some(dir.clone());
        self
    }
}

// SAFETY: the SQE points to the path, a `CString` the op owns, and names
// the directory, which the op keeps open, or `AT_FDCWD`.
unsafe impl Op for MkdirAt {
    const SELECTS_BUFFER: bool = false;
    type Output = ();
    type Sqe<'a> = raw::MkdirAt<'a, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        raw::MkdirAt::new(dir_of(&self.dir), &self.path).mode(self.mode)
    }
    fn complete(self, _: Completion) {}
}
