//! Registered buffers: the table, and buffers cloned from another ring.

use crate::args::FixedBuf;
use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, HandleError, Result};
use crate::ring::Ring;
use crate::sys;

use std::io::IoSliceMut;
use std::os::fd::AsRawFd;

/// The handle to a ring's registered buffers, returned by
/// [`Ring::register_buffers`] and consumed by [`Ring::unregister_buffers`].
///
/// Dropping the handle does not unregister the buffers (nothing but the
/// handle can): they stay pinned and registered for the ring's life, and
/// every later registration of buffers fails with `EBUSY`.
#[derive(Debug)]
#[must_use = "a dropped handle leaves the buffers registered for the ring's life; unregister them with `Ring::unregister_buffers`"]
pub struct FixedBuffers {
    ring: u32,
    len: u32,
}

impl FixedBuffers {
    /// The number of registered buffers.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether no buffer is registered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer at `index`, for fixed-buffer ops; an error if there is no
    /// such buffer.
    pub fn get(&self, index: u32) -> Result<FixedBuf> {
        match u16::try_from(index) {
            Ok(i) if index < self.len => Ok(FixedBuf(i)),
            _ => Err(Error::InvalidArgument(format!(
                "fixed-buffer index {index} is outside the table of {} buffers",
                self.len
            ))),
        }
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Registers `buffers` for fixed-buffer ops (`IORING_REGISTER_BUFFERS`):
    /// the kernel pins their pages.
    ///
    /// # Safety
    ///
    /// The kernel reads and writes this memory through fixed-buffer ops for
    /// as long as it stays registered: it must remain allocated and not be
    /// used in conflict with those ops until [`unregister_buffers`]
    /// (`Ring::unregister_buffers`) has returned and no op that uses it is
    /// in flight (an op in flight keeps its buffer's pages, and writes into
    /// them, after the unregistration). A ring dropped with such ops in
    /// flight leaves them to the kernel's teardown, which ends after the
    /// last `close` of its descriptor returns (a `BufRing`, `RawBufRing` or
    /// `RingTarget` holds a duplicate), at a point the program cannot see:
    /// the memory must then be leaked.
    ///
    /// [`unregister_buffers`]: Ring::unregister_buffers
    pub unsafe fn register_buffers(&mut self, buffers: &[IoSliceMut<'_>]) -> Result<FixedBuffers> {
        let len = u32::try_from(buffers.len())
            .map_err(|_| Error::InvalidArgument("too many buffers to register".into()))?;
        // `IoSliceMut` has the layout of `struct iovec` on Unix.
        self.register(
            sys::IORING_REGISTER_BUFFERS,
            buffers.as_ptr().cast(),
            len,
            "IORING_REGISTER_BUFFERS",
        )?;
        Ok(FixedBuffers { ring: self.id, len })
    }

    /// Registers `buffers` for fixed-buffer ops as
    /// [`register_buffers`](Ring::register_buffers) does, each with a tag
    /// (`IORING_REGISTER_BUFFERS2`, 5.13,
    /// [`Features::RSRC_TAGS`](crate::Features::RSRC_TAGS)): once the
    /// kernel is done with a buffer (its slot was updated or the table
    /// unregistered, and every op that used it has completed), it posts a
    /// completion with the buffer's tag as `user_data` and 0 as result. A
    /// tag of 0 posts nothing. `buffers` and `tags` have the same length.
    ///
    /// # Safety
    ///
    /// As for [`register_buffers`](Ring::register_buffers); a buffer with a
    /// tag may also be freed once its tag's completion has arrived, the
    /// kernel no longer using it through this ring, unless another ring
    /// shares it ([`clone_buffers`](Ring::clone_buffers)): a clone holds the
    /// pages on its own and carries no tag, so the memory stays in use
    /// until that ring too has let go of it (as `clone_buffers` says).
    pub unsafe fn register_buffers_tagged(
        &mut self,
        buffers: &[IoSliceMut<'_>],
        tags: &[u64],
    ) -> Result<FixedBuffers> {
        let len = u32::try_from(buffers.len())
            .ok()
            .filter(|&n| n > 0 && buffers.len() == tags.len())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{} buffers and {} tags to register",
                    buffers.len(),
                    tags.len()
                ))
            })?;
        // `IoSliceMut` has the layout of `struct iovec` on Unix.
        // SAFETY: `len` iovecs, under the caller's contract.
        unsafe { self.register_iovecs(buffers.as_ptr() as u64, len, tags) }
    }

    /// Registers `buffers` for fixed-buffer ops as
    /// [`register_buffers`](Ring::register_buffers) does, leaving the slot
    /// of each `None` empty (`IORING_REGISTER_BUFFERS2` with an iovec of
    /// NULL base and zero length, 5.13). A fixed-buffer op naming an empty
    /// slot fails (`EFAULT`); [`update_buffers`](Ring::update_buffers) can
    /// fill it later. The table is as long as `buffers`, which is not empty.
    ///
    /// # Safety
    ///
    /// As for [`register_buffers`](Ring::register_buffers), for the memory
    /// of each `Some`.
    pub unsafe fn register_buffer_slots(
        &mut self,
        buffers: &[Option<IoSliceMut<'_>>],
    ) -> Result<FixedBuffers> {
        // SAFETY: the caller's contract, with no tags.
        unsafe { self.register_buffer_slots_tagged(buffers, &[]) }
    }

    /// [`register_buffer_slots`](Ring::register_buffer_slots), with a tag
    /// for each buffer (5.13,
    /// [`Features::RSRC_TAGS`](crate::Features::RSRC_TAGS)), as for
    /// [`register_buffers_tagged`](Ring::register_buffers_tagged): the
    /// kernel posts it as a completion's `user_data` once it is done with
    /// that buffer. `tags` is empty (no tags) or as long as `buffers`; an
    /// empty slot takes no tag but 0 (`EINVAL` from the kernel).
    ///
    /// # Safety
    ///
    /// As for [`register_buffers_tagged`](Ring::register_buffers_tagged),
    /// for the memory of each `Some`.
    pub unsafe fn register_buffer_slots_tagged(
        &mut self,
        buffers: &[Option<IoSliceMut<'_>>],
        tags: &[u64],
    ) -> Result<FixedBuffers> {
        let len = u32::try_from(buffers.len())
            .ok()
            .filter(|&n| n > 0 && (tags.is_empty() || buffers.len() == tags.len()))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{} buffer slots and {} tags to register",
                    buffers.len(),
                    tags.len()
                ))
            })?;
        let iovecs = iovecs_of(buffers);
        // SAFETY: `len` iovecs, alive for the call; the memory of each
        // `Some` under the caller's contract, the others NULL and empty.
        unsafe { self.register_iovecs(iovecs.as_ptr() as u64, len, tags) }
    }

    /// Registers the `len` iovecs at `iovecs` as the ring's buffer table,
    /// with `tags` (empty: none; else one per iovec)
    /// (`IORING_REGISTER_BUFFERS2`).
    ///
    /// # Safety
    ///
    /// `iovecs` points to `len` iovecs, alive for the call, whose memory
    /// meets [`register_buffers_tagged`](Ring::register_buffers_tagged)'s
    /// contract.
    unsafe fn register_iovecs(
        &mut self,
        iovecs: u64,
        len: u32,
        tags: &[u64],
    ) -> Result<FixedBuffers> {
        self.note_tags(tags);
        let reg = sys::io_uring_rsrc_register {
            nr: len,
            data: iovecs,
            tags: if tags.is_empty() {
                0
            } else {
                tags.as_ptr() as u64
            },
            ..Default::default()
        };
        self.register_rsrc(
            sys::IORING_REGISTER_BUFFERS2,
            &reg,
            "IORING_REGISTER_BUFFERS2",
        )?;
        Ok(FixedBuffers { ring: self.id, len })
    }

    /// Registers a table of `len` empty buffer slots
    /// (`IORING_REGISTER_BUFFERS2` with `IORING_RSRC_REGISTER_SPARSE`, 5.19),
    /// to be filled with [`update_buffers`](Ring::update_buffers). A
    /// fixed-buffer op naming an empty slot fails (`EFAULT`). Safe: no
    /// memory is registered.
    pub fn register_buffers_sparse(&mut self, len: u32) -> Result<FixedBuffers> {
        if len == 0 || len > sys::IORING_MAX_REG_BUFFERS {
            return Err(Error::InvalidArgument(format!(
                "a sparse buffer table holds 1 to {} buffers, not {len}",
                sys::IORING_MAX_REG_BUFFERS
            )));
        }
        self.register_sparse(
            sys::IORING_REGISTER_BUFFERS2,
            len,
            "IORING_REGISTER_BUFFERS2",
        )?;
        Ok(FixedBuffers { ring: self.id, len })
    }

    /// Replaces the buffers of slots `offset..` of `table` with `buffers`
    /// (`IORING_REGISTER_BUFFERS_UPDATE`, 5.13): `Some` registers that
    /// memory in the slot, `None` empties it. Returns how many slots were
    /// updated. An op finds its buffer when the kernel takes it up: one
    /// pushed and not yet submitted uses what the slot holds then, and so,
    /// since Linux 6.14, does one submitted but not yet issued (linked
    /// behind an op still running), failing with `EFAULT` when its bytes
    /// are not in the new buffer; ops already issued keep the buffer they
    /// found. The old buffer's tag, if any, comes once no op uses it.
    ///
    /// # Safety
    ///
    /// As for [`register_buffers`](Ring::register_buffers), for the memory
    /// registered here. The memory a slot had before stays in use by the
    /// fixed-buffer ops pushed before the update until they complete: it
    /// must stay valid until then.
    pub unsafe fn update_buffers(
        &mut self,
        table: &FixedBuffers,
        offset: u32,
        buffers: &[Option<IoSliceMut<'_>>],
    ) -> Result<u32> {
        // SAFETY: the caller's contract, with no tags.
        unsafe { self.update_buffers_tagged(table, offset, buffers, &[]) }
    }

    /// [`update_buffers`](Ring::update_buffers), with a tag for each
    /// buffer registered (5.13,
    /// [`Features::RSRC_TAGS`](crate::Features::RSRC_TAGS)), as for
    /// [`register_buffers_tagged`](Ring::register_buffers_tagged): the
    /// kernel posts it as a completion's `user_data` once it is done with
    /// that buffer. `tags` is empty (no tags) or as long as `buffers`; an
    /// empty slot takes no tag but 0 (`EINVAL` from the kernel).
    ///
    /// # Safety
    ///
    /// As for [`update_buffers`](Ring::update_buffers); a buffer with a tag
    /// may be freed once its tag's completion has arrived, unless another
    /// ring shares it (see
    /// [`register_buffers_tagged`](Ring::register_buffers_tagged)).
    pub unsafe fn update_buffers_tagged(
        &mut self,
        table: &FixedBuffers,
        offset: u32,
        buffers: &[Option<IoSliceMut<'_>>],
        tags: &[u64],
    ) -> Result<u32> {
        self.check_handle(table.ring, "buffers")?;
        if !tags.is_empty() && tags.len() != buffers.len() {
            return Err(Error::InvalidArgument(format!(
                "{} buffers and {} tags to update",
                buffers.len(),
                tags.len()
            )));
        }
        let nr = u32::try_from(buffers.len()).ok();
        let fits = nr
            .and_then(|n| offset.checked_add(n))
            .is_some_and(|end| end <= table.len);
        let (Some(nr), true) = (nr, fits) else {
            return Err(Error::InvalidArgument(format!(
                "updating {} slots at {offset} overruns the table of {} buffers",
                buffers.len(),
                table.len
            )));
        };
        let iovecs = iovecs_of(buffers);
        self.note_tags(tags);
        let update = sys::io_uring_rsrc_update2 {
            offset,
            data: iovecs.as_ptr() as u64,
            tags: if tags.is_empty() {
                0
            } else {
                tags.as_ptr() as u64
            },
            nr,
            ..Default::default()
        };
        self.update_rsrc(
            sys::IORING_REGISTER_BUFFERS_UPDATE,
            &update,
            "IORING_REGISTER_BUFFERS_UPDATE",
        )
    }

    /// Unregisters the buffers (`IORING_UNREGISTER_BUFFERS`). On failure the
    /// handle comes back in the error.
    pub fn unregister_buffers(
        &mut self,
        buffers: FixedBuffers,
    ) -> std::result::Result<(), HandleError<FixedBuffers>> {
        let ring = buffers.ring;
        self.unregister(
            buffers,
            ring,
            "buffers",
            sys::IORING_UNREGISTER_BUFFERS,
            "IORING_UNREGISTER_BUFFERS",
        )
    }

    /// Registers the buffers `src` registered (`count` of them from
    /// `src_offset`) with this ring too, as its buffers 0 to `count - 1`,
    /// the two rings then sharing the pinned memory
    /// (`IORING_REGISTER_CLONE_BUFFERS`, 6.12). Returns the handle of this
    /// ring's table, which must have had no buffers registered.
    ///
    /// # Safety
    ///
    /// As for [`register_buffers`](Ring::register_buffers), with this ring
    /// too: the memory must stay valid and unused in conflict with either
    /// ring's fixed-buffer ops until both have unregistered the buffers (or
    /// been closed, with their ops completed).
    pub unsafe fn clone_buffers(
        &mut self,
        src: &Ring,
        buffers: &FixedBuffers,
        src_offset: u32,
        count: u32,
    ) -> Result<FixedBuffers> {
        src.check_handle(buffers.ring, "buffers")?;
        let fits = src_offset
            .checked_add(count)
            .is_some_and(|end| end <= buffers.len);
        if !fits || count == 0 {
            return Err(Error::InvalidArgument(format!(
                "cloning {count} buffers from {src_offset} of a table of {}",
                buffers.len
            )));
        }
        let arg = sys::io_uring_clone_buffers {
            src_fd: src.as_raw_fd() as u32,
            src_off: src_offset,
            nr: count,
            ..Default::default()
        };
        // Whether a clone carries the source's tags over is the kernel's
        // business: this ring's scopes assume it may.
        if src.outside.get() {
            self.outside.set(true);
        }
        self.register(
            sys::IORING_REGISTER_CLONE_BUFFERS,
            (&arg as *const sys::io_uring_clone_buffers).cast(),
            1,
            "IORING_REGISTER_CLONE_BUFFERS",
        )?;
        Ok(FixedBuffers {
            ring: self.id,
            len: count,
        })
    }

    /// Registers the buffers `src` registered (`count` of them from
    /// `src_offset`) with this ring too, in slots `dst_offset` to
    /// `dst_offset + count - 1` of its table `table`, replacing what those
    /// slots held (`IORING_REGISTER_CLONE_BUFFERS` with `dst_off` and
    /// `IORING_REGISTER_DST_REPLACE`, 6.13; liburing's
    /// `io_uring_clone_buffers_offset`). An empty slot of `src` leaves its
    /// slot empty; a cloned buffer carries no tag. The kernel grows the
    /// table when the range ends past it, the new slots between its old end
    /// and `dst_offset` empty; the slots before `dst_offset` keep their
    /// buffers, and so do those after the range, except on kernels without
    /// the fix that keeps them (Linux 6.19, and 6.18 stable releases), which
    /// empty them. Returns the handle of the table, as long as it now is. A
    /// range past the end of `buffers`, or past the most slots a table
    /// holds, is an error before the kernel is asked; on any error the table
    /// is unchanged and its handle comes back in the error. To clone into a
    /// ring with no table at an offset, register a sparse table first
    /// ([`register_buffers_sparse`](Ring::register_buffers_sparse)).
    ///
    /// # Safety
    ///
    /// As for [`clone_buffers`](Ring::clone_buffers), for the cloned
    /// memory. The memory a replaced (or emptied) slot had stays in use by
    /// the fixed-buffer ops pushed before the call until they complete, as
    /// for [`update_buffers`](Ring::update_buffers): it must stay valid until
    /// then, and, registered without a tag, until the table is unregistered
    /// or the ring closed as `register_buffers` says; with a tag, until its
    /// tag's completion has arrived.
    pub unsafe fn clone_buffers_replace(
        &mut self,
        table: FixedBuffers,
        dst_offset: u32,
        src: &Ring,
        buffers: &FixedBuffers,
        src_offset: u32,
        count: u32,
    ) -> std::result::Result<FixedBuffers, HandleError<FixedBuffers>> {
        let checked = self
            .check_handle(table.ring, "buffers")
            .and_then(|()| src.check_handle(buffers.ring, "buffers"))
            .and_then(|()| {
                let in_src = src_offset
                    .checked_add(count)
                    .is_some_and(|end| end <= buffers.len);
                if !in_src || count == 0 {
                    return Err(Error::InvalidArgument(format!(
                        "cloning {count} buffers from {src_offset} of a table of {}",
                        buffers.len
                    )));
                }
                dst_offset
                    .checked_add(count)
                    .filter(|&end| end <= sys::IORING_MAX_REG_BUFFERS)
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "cloning {count} buffers to {dst_offset} overruns the {} slots \
                             a table holds",
                            sys::IORING_MAX_REG_BUFFERS
                        ))
                    })
            });
        let end = match checked {
            Ok(end) => end,
            Err(error) => {
                return Err(HandleError {
                    error,
                    handle: table,
                });
            }
        };
        let arg = sys::io_uring_clone_buffers {
            src_fd: src.as_raw_fd() as u32,
            flags: sys::IORING_REGISTER_DST_REPLACE,
            src_off: src_offset,
            dst_off: dst_offset,
            nr: count,
            ..Default::default()
        };
        // As for `clone_buffers`: this ring's scopes assume the clone may
        // carry the source's tags.
        if src.outside.get() {
            self.outside.set(true);
        }
        match self.register(
            sys::IORING_REGISTER_CLONE_BUFFERS,
            (&arg as *const sys::io_uring_clone_buffers).cast(),
            1,
            "IORING_REGISTER_CLONE_BUFFERS",
        ) {
            Ok(_) => Ok(FixedBuffers {
                ring: self.id,
                len: table.len.max(end),
            }),
            Err(error) => Err(HandleError {
                error,
                handle: table,
            }),
        }
    }
}

/// The iovecs the kernel reads for `buffers`: a `None` is an iovec of NULL
/// base and zero length, which leaves its slot empty.
fn iovecs_of(buffers: &[Option<IoSliceMut<'_>>]) -> Vec<libc::iovec> {
    buffers
        .iter()
        .map(|b| match b {
            Some(b) => libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            },
            None => libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
        })
        .collect()
}
