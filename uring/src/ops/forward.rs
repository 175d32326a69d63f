//! A read linked to a write of the bytes it read: a copy through one
//! buffer, in one push.
//!
//! `Read::new(&src, &mut buf[..]).link(Write::new(&dst, &buf[..]))` does not
//! compile: the read borrows the buffer exclusively, and the write would
//! share it. [`Read::then_write`] (and [`ReadFixed::then_write`], for a
//! slice of a registered buffer) builds the pair from the read alone: the
//! write goes out of the read's buffer, soft-linked after it, so the kernel
//! starts it only once the read has filled the whole buffer.

use super::{Read, ReadFixed, Write, WriteFixed};
use crate::chain::Link;
use crate::entries::SqeSize;
use crate::op::{AcceptsLinkTimeout, FitsSqe, Prepare, Scoped, SqWriter};
use crate::sys;
use crate::types::{IntoTarget, Target};
use std::fmt;

/// The write of a pair built by [`Read::then_write`] or
/// [`ReadFixed::then_write`]: `W` (a [`Write`] or a [`WriteFixed`]) out of
/// the buffer of the read before it.
///
/// It exists only as the second element of that pair, a [`Link`] of two
/// SQEs: it cannot be pushed alone, linked after another op, or taken out
/// of its chain. A link timeout after the pair (`.timeout(..)`) bounds the
/// write; ops linked after the pair (`.link(..)`) start once the write
/// succeeds.
pub struct ThenWrite<W> {
    /// The write, over an empty slice: its SQE gets the read's buffer when
    /// it is written.
    write: W,
    /// The read's buffer, as the read's SQE names it: its address and its
    /// length clamped to `u32::MAX`, as an op clamps a slice.
    addr: u64,
    len: u32,
}

impl<W> ThenWrite<W> {
    /// `write` out of `buf`, the buffer of the read it follows.
    fn new(write: W, buf: &[u8]) -> ThenWrite<W> {
        ThenWrite {
            write,
            addr: buf.as_ptr() as u64,
            len: u32::try_from(buf.len()).unwrap_or(u32::MAX),
        }
    }
}

impl<'a, T: Target> Read<'a, T> {
    /// This read, then a write of the buffer it filled to `dst` at
    /// `offset`: the two SQEs of one copy, soft-linked (`IOSQE_IO_LINK`).
    ///
    /// The write starts only once the read has completed with the whole
    /// buffer (its length, clamped to `u32::MAX`), and writes the whole
    /// buffer. A read that fails, or that reads less (a short read: the end
    /// of the file, a pipe with fewer bytes ready), fails the link as the
    /// kernel fails any soft link: the read completes with its own result
    /// (the byte count of a short read) and the write with `-ECANCELED`,
    /// without writing anything. To copy the tail of a file, read it with a
    /// buffer of its exact length. (Not on an IOPOLL ring: Linux fails no
    /// link for a polled read that completes short, and the write then
    /// writes the whole buffer, with what the read did not reach as it was.)
    ///
    /// `dst` is a borrowed descriptor (`&file`, a `BorrowedFd`) or a
    /// [`Fixed`](crate::Fixed) file, as for [`Write::new`]; the source's
    /// target type is kept as it is, so either side may be a registered
    /// file. The write carries `user_data` 0 and no flags; to set them (or
    /// its `RWF_*` flags, priority, personality), see
    /// [`then_write_with`](Read::then_write_with). The pair is a [`Link`]:
    /// `.timeout(d)` after it bounds the write, `.link(next)` runs `next`
    /// once the write succeeds, `.hard_link(next)` once the write completes
    /// (a read that failed or came short cancels the write and `next` with
    /// it: the read's link is soft), and it goes in a
    /// [`Linked`](crate::Linked) chain as one element.
    ///
    /// A read that selects a provided buffer ([`BufferSelect`](crate::BufferSelect))
    /// has no buffer of its own to write, and has no `then_write`.
    ///
    /// ```
    /// use std::io::{Read as _, Seek as _, Write as _};
    /// use uring::{Ring, ops::Read};
    ///
    /// # fn temp(name: &str) -> std::io::Result<std::fs::File> {
    /// #     let path = std::env::temp_dir().join(format!("uring-{name}-{}", std::process::id()));
    /// #     let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
    /// #     std::fs::remove_file(&path)?;
    /// #     Ok(file)
    /// # }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut src = temp("then-write-src")?;
    /// src.write_all(&[7; 4096])?;
    /// let mut dst = temp("then-write-dst")?;
    /// let mut ring = Ring::new(8)?;
    /// let mut buf = vec![0u8; 4096];
    /// ring.scope(|s| -> uring::Result<()> {
    ///     // Copy the first 4 KiB of `src` to offset 512 of `dst`.
    ///     let copy = Read::new(&src, &mut buf[..])
    ///         .user_data(1)
    ///         .then_write_with(&dst, |w| w.offset(512).user_data(2));
    ///     s.push(copy)?;
    ///     s.submit_and_wait(2)?;
    ///     let mut done: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
    ///     done.sort();
    ///     assert_eq!(done, [(1, 4096), (2, 4096)]);
    ///     Ok(())
    /// })?;
    /// let mut copied = Vec::new();
    /// dst.rewind()?;
    /// dst.read_to_end(&mut copied)?;
    /// assert_eq!(copied.len(), 512 + 4096);
    /// assert!(copied[512..].iter().all(|&b| b == 7));
    ///
    /// // A short read: 4096 bytes asked at offset 1024 of a 4096-byte file.
    /// ring.scope(|s| -> uring::Result<()> {
    ///     let copy = Read::new(&src, &mut buf[..])
    ///         .offset(1024)
    ///         .user_data(1)
    ///         .then_write_with(&dst, |w| w.offset(8192).user_data(2));
    ///     s.push(copy)?;
    ///     s.submit_and_wait(2)?;
    ///     let mut done: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
    ///     done.sort();
    ///     // The read got 3072 bytes; the write was cancelled.
    ///     assert_eq!(done, [(1, 3072), (2, -libc::ECANCELED)]);
    ///     Ok(())
    /// })?;
    /// assert_eq!(dst.metadata()?.len(), 512 + 4096);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn then_write<D: IntoTarget>(
        self,
        dst: D,
        offset: u64,
    ) -> Link<Read<'a, T>, ThenWrite<Write<'a, D::Target>>> {
        self.then_write_with(dst, |write| write.offset(offset))
    }

    /// [`then_write`](Read::then_write), with the write set up by `build`:
    /// it gets the [`Write`] to `dst` (at offset 0, `user_data` 0) and
    /// returns it with the settings it chose (`.offset(..)`,
    /// `.user_data(..)`, `.flags(..)`, `.rw_flags(..)`, ...). Whatever it
    /// returns writes the read's buffer: the buffer is the read's when the
    /// pair is pushed.
    #[inline]
    pub fn then_write_with<D, F>(
        self,
        dst: D,
        build: F,
    ) -> Link<Read<'a, T>, ThenWrite<Write<'a, D::Target>>>
    where
        D: IntoTarget,
        F: FnOnce(Write<'a, D::Target>) -> Write<'a, D::Target>,
    {
        let write = build(Write::new(dst, &[]));
        let write = ThenWrite::new(write, self.buf);
        Link::new(self, write, sys::IOSQE_IO_LINK)
    }
}

impl<'a, T: Target> ReadFixed<'a, T> {
    /// This read, then a [`WriteFixed`] of the same slice of the same
    /// registered buffer to `dst` at `offset`: the two SQEs of one copy
    /// that never leaves the registered memory, soft-linked
    /// (`IOSQE_IO_LINK`).
    ///
    /// As for [`Read::then_write`]: the write starts only once the read has
    /// filled the whole slice, and a failed or short read cancels it
    /// (`-ECANCELED`; a short polled read on an IOPOLL ring does not). The source's target type is kept, and `dst` is a
    /// borrowed descriptor or a [`Fixed`](crate::Fixed) file.
    ///
    /// ```
    /// use std::io::IoSliceMut;
    /// use std::os::fd::AsFd;
    /// use std::os::unix::fs::FileExt;
    /// use uring::{Ring, ops::ReadFixed};
    ///
    /// # fn temp(name: &str) -> std::io::Result<std::fs::File> {
    /// #     let path = std::env::temp_dir().join(format!("uring-{name}-{}", std::process::id()));
    /// #     let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
    /// #     std::fs::remove_file(&path)?;
    /// #     Ok(file)
    /// # }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (src, dst) = (temp("then-write-fixed-src")?, temp("then-write-fixed-dst")?);
    /// src.write_all_at(&[3; 4096], 0)?;
    /// // Declared before the ring, so that it outlives the registration.
    /// let mut region = vec![0u8; 4096];
    /// let mut ring = Ring::new(8)?;
    /// // SAFETY: `region` is neither moved nor resized, and outlives the
    /// // ring; only the ops below touch it while it is registered.
    /// let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut region)])? };
    /// let files = ring.register_files(&[src.as_fd(), dst.as_fd()])?;
    /// let (from, to) = (files.get(0)?, files.get(1)?);
    /// ring.scope(|s| -> uring::Result<()> {
    ///     // Both files registered, the bytes in registered memory.
    ///     s.push(ReadFixed::new(from, &mut region[..], bufs.get(0)?).then_write(to, 0))?;
    ///     s.submit_and_wait(2)?;
    ///     let done: Vec<_> = s.completions().map(|c| c.res()).collect();
    ///     assert_eq!(done, [4096, 4096]);
    ///     Ok(())
    /// })?;
    /// let mut copied = [0u8; 4096];
    /// dst.read_exact_at(&mut copied, 0)?;
    /// assert_eq!(copied, [3; 4096]);
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn then_write<D: IntoTarget>(
        self,
        dst: D,
        offset: u64,
    ) -> Link<ReadFixed<'a, T>, ThenWrite<WriteFixed<'a, D::Target>>> {
        self.then_write_with(dst, |write| write.offset(offset))
    }

    /// [`then_write`](ReadFixed::then_write), with the write set up by
    /// `build`, as [`Read::then_write_with`] does: whatever it returns
    /// writes the read's slice.
    #[inline]
    pub fn then_write_with<D, F>(
        self,
        dst: D,
        build: F,
    ) -> Link<ReadFixed<'a, T>, ThenWrite<WriteFixed<'a, D::Target>>>
    where
        D: IntoTarget,
        F: FnOnce(WriteFixed<'a, D::Target>) -> WriteFixed<'a, D::Target>,
    {
        let write = build(WriteFixed::new(dst, &[], self.index));
        let write = ThenWrite::new(write, self.buf);
        Link::new(self, write, sys::IOSQE_IO_LINK)
    }
}

// SAFETY: the write takes the one slot its own `prepare_all` takes (it is a
// `Write` or a `WriteFixed`, one SQE each, taken at the writer's position),
// written whole by the op table's code with the caller's `link`; then only
// `addr` and `len`, where both entries put their buffer (`buf => addr +
// len`), are set to the read's buffer.
//
// Why the kernel touches only memory the program lent it, and why the two
// ops cannot race it:
// - Both SQEs point at the one buffer the read borrows exclusively for 'a:
//   the program gave up its `&'a mut [u8]` to the read, so it cannot read
//   or write those bytes while the pair lives, nor, once the pair is
//   pushed, before 'a ends, which a scope (or the caller of
//   `push_unchecked`) makes outlast both completions. The write's own
//   slice is empty; its address comes from the read's.
// - The kernel writes the buffer (the read) strictly before it reads it
//   (the write): `then_write` joins them with `IOSQE_IO_LINK`, and the
//   kernel issues a linked SQE only after the one before it has completed,
//   successfully and with its whole length (a short read fails the link,
//   and the write completes with `-ECANCELED` without running; on an
//   IOPOLL ring a short polled read does not, and the write then runs
//   after it, still after it: what it reads is the read's buffer, whole,
//   initialised, as the read left it).
// - Nothing safe separates the two or changes that link: a `ThenWrite`
//   is made only here, as the tail of the `Link` the read heads; a
//   `Link`'s parts and flag are private, and nothing takes it apart (a
//   `PushError`, an `Either`, `Linked::into_inner` hand back whole pairs);
//   `ThenWrite` is neither `Submission` nor `ChainNext` (not pushed alone,
//   not linked after another op); `SqeFlags` cannot name `IO_LINK` or
//   `IO_HARDLINK`, and the one way to a hard link, `op::link`, is
//   `unsafe`. The flags safe code may set (`IOSQE_ASYNC`, `IO_DRAIN`,
//   `CQE_SKIP_SUCCESS`, on either op) change how or when the kernel
//   issues an op, or whether it posts a success, never the order of a
//   chain. A ring whose SQ thread another ring shares, whose kernel
//   thread would submit a chain cut in two passes as two chains, takes
//   no chain (`PushErrorKind::SharedSqThread`). Were the order lost anyway (through `unsafe` code: a hard link
//   runs the write after a short read, SQEs copied by hand may run side
//   by side), only the kernel's own accesses would meet, in bytes that
//   are initialised (the read's `&mut [u8]`) and that the program cannot
//   touch until both completions: the file would get whatever the buffer
//   held, and the program's memory nothing it did not lend.
// - Rust's aliasing rules: no shared reference to the buffer exists
//   beside the read's exclusive one: the write carries an empty slice and
//   the integers `addr` and `len`, never turned back into a reference.
unsafe impl<W: Prepare> Prepare for ThenWrite<W> {
    const SQES: u32 = W::SQES;
    const NAMES_OPS: bool = W::NAMES_OPS;
    const ZERO_COPY: bool = W::ZERO_COPY;
    const MAY_POST_MORE: bool = W::MAY_POST_MORE;
    const HAS_LINK_TIMEOUT: bool = W::HAS_LINK_TIMEOUT;

    #[inline(always)]
    fn prepare_all<const WRAP: bool, S: SqeSize>(
        self,
        writer: &mut SqWriter<'_, WRAP, S>,
        link: u8,
    ) {
        let at = writer.position();
        self.write.prepare_all(writer, link);
        let sqe = S::sqe(at);
        // SAFETY: `at` is the slot the write's one SQE was just written to
        // (the slot the writer handed out next): reserved for this push,
        // unpublished, in the SQE array, and 8-aligned like every slot of
        // it, as an `io_uring_sqe` needs.
        unsafe {
            (&raw mut (*sqe).addr).write(sys::io_uring_sqe_addr { addr: self.addr });
            (&raw mut (*sqe).len).write(self.len);
        }
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        self.write.fits_ring(ring)
    }
}

/// It fits the SQEs its write fits (all).
#[diagnostic::do_not_recommend]
// SAFETY: its one SQE is its write's.
unsafe impl<S: SqeSize, W: FitsSqe<S>> FitsSqe<S> for ThenWrite<W> {}

/// The kernel is done with the buffer at the write's completion.
#[diagnostic::do_not_recommend]
// SAFETY: the write reads the read's buffer, which the read's head of the
// chain borrows, until its own (one) completion, as a plain write does.
unsafe impl<W: Scoped> Scoped for ThenWrite<W> {}

/// A link timeout after the pair bounds the write.
#[diagnostic::do_not_recommend]
// SAFETY: the link timeout follows the write, which accepts one.
unsafe impl<W: AcceptsLinkTimeout<D>, D> AcceptsLinkTimeout<D> for ThenWrite<W> {}

impl<W: fmt::Debug> fmt::Debug for ThenWrite<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ThenWrite").field(&self.write).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::{Read, ReadFixed};
    use crate::{Fd, FixedBuf};

    #[test]
    fn a_pair_prints_as_the_chain_it_is() {
        let mut buf = [0u8; 16];
        // SAFETY: never pushed; the descriptors are never used.
        let (src, dst) = unsafe { (Fd::borrow_raw(3), Fd::borrow_raw(4)) };
        let pair = Read::new(src, &mut buf[..])
            .user_data(1)
            .then_write_with(dst, |w| w.user_data(2));
        assert_eq!(
            format!("{pair:?}"),
            "Link(Read { user_data: 1, flags: 0x0, .. }, \
             ThenWrite(Write { user_data: 2, flags: 0x0, .. }))"
        );
        let debug = format!("{:?}", pair.timeout(std::time::Duration::from_secs(1)));
        assert!(debug.ends_with("LinkTimeout { user_data: 0, flags: 0x0, .. })"));
        let mut region = [0u8; 8];
        let fixed = ReadFixed::new(src, &mut region[..], FixedBuf(0)).then_write(dst, 3);
        assert!(format!("{fixed:?}").contains("ThenWrite(WriteFixed"));
    }
}
