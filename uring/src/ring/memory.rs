//! Where a ring lives: the kernel's mappings of the queues, memory the
//! library allocates for them, or memory the caller gives
//! (`IORING_SETUP_NO_MMAP`); how a ring is set up over them, and resized.

use super::{Ring, next_ring_id};
use crate::builder::{Builder, RingRegion, page_size};
use crate::cqueue::Cq;
use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::params::Params;
use crate::scope::ScopeTable;
use crate::squeue::Sq;
use crate::sys;
use crate::types::Timespec;
use std::mem;
use std::os::fd::RawFd;

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    pub(crate) fn with_builder(
        builder: &Builder<'_>,
        entries: u32,
        given: Option<RingRegion>,
    ) -> Result<Ring<S, C>> {
        let sqpoll = |flags: u32| flags & sys::IORING_SETUP_SQPOLL != 0;
        // Chains are refused from the attach on; one the other ring holds
        // already (pushed and not submitted, or submitted and not yet
        // taken by its SQ thread) would be cut by the shared thread all the
        // same. The builder borrows that ring: nothing is pushed to it
        // until the attach is done.
        if let Some(other) = builder.wq_ring()
            && sqpoll(other.setup_flags)
            && sqpoll(builder.params(entries)?.flags)
            && other.sq.untaken() != 0
        {
            return Err(Error::InvalidArgument(
                "the SQPOLL ring to attach to holds SQEs its SQ thread has not taken (a chain \
                 among them would be cut by the shared thread): submit them, and attach once \
                 its pending() reads 0"
                    .into(),
            ));
        }
        let ring = Self::set_up(builder, entries, given)?;
        // An SQPOLL ring attached to another's pool shares its SQ thread,
        // which then serves both: neither takes chains from now on (see
        // `Sq::shared_sq_thread`).
        if let Some(other) = builder.wq_ring()
            && sqpoll(ring.setup_flags)
            && sqpoll(other.setup_flags)
        {
            ring.sq.shared_sq_thread.set(true);
            other.sq.shared_sq_thread.set(true);
        }
        Ok(ring)
    }

    /// Sets the ring up and maps it: all of
    /// [`with_builder`](Self::with_builder) but the marking of a shared SQ
    /// thread.
    fn set_up(
        builder: &Builder<'_>,
        entries: u32,
        given: Option<RingRegion>,
    ) -> Result<Ring<S, C>> {
        let mut p = builder.params(entries)?;
        p.flags |= S::SETUP | C::SETUP;
        check_mixed_cq::<C>(&p)?;
        let user_memory = match given {
            Some(region) => {
                p.flags |= sys::IORING_SETUP_NO_MMAP;
                let layout = RingLayout::for_setup(&p, entries)?;
                Some(RingMemory::in_region(&mut p, &layout, region)?)
            }
            None if p.flags & sys::IORING_SETUP_NO_MMAP != 0 => {
                let layout = RingLayout::for_setup(&p, entries)?;
                Some(RingMemory::for_params(
                    &mut p,
                    &layout,
                    builder.huge_pages(),
                )?)
            }
            None => None,
        };
        // SAFETY: `p` is a valid, writable `io_uring_params`; with NO_MMAP
        // its addresses are those of `user_memory`: mappings at least as
        // large as the kernel reads (`RingLayout`), each of the library's
        // own followed by an inaccessible page.
        let fd = unsafe { sys::io_uring_setup(entries, &mut p) }
            .map_err(|e| Error::os("io_uring_setup", e))?;
        if p.flags & sys::IORING_SETUP_REGISTERED_FD_ONLY != 0 {
            // `fd` is an index into this thread's registered rings: the
            // ring has no descriptor. Unregister it if mapping fails: it is
            // the kernel ring's last name, which would otherwise live (and
            // hold one of the thread's 16 slots) until the thread exits.
            let guard = IndexGuard(fd);
            let mut ring = Self::map(-1, p, builder.wq_fd(), user_memory)?;
            mem::forget(guard);
            ring.enter_fd = fd;
            ring.enter_flags = sys::IORING_ENTER_REGISTERED_RING;
            ring.registered_by = crate::register::thread_key();
            return Ok(ring);
        }
        // Close the descriptor if mapping fails.
        let guard = FdGuard(fd);
        if p.features & sys::IORING_FEAT_SUBMIT_STABLE == 0 {
            // Before 5.5 the kernel may read what an SQE points to (a
            // timeout's timespec, kept in the ring) after it has consumed
            // the SQE, when the slot and its timespec may be another op's.
            // (Rings of registered descriptors alone come from 6.5, which
            // has it.)
            return Err(Error::Setup(
                "this kernel lacks IORING_FEAT_SUBMIT_STABLE (5.5): it may read an op's \
                 arguments after their SQE is reused",
            ));
        }
        let ring = Self::map(fd, p, builder.wq_fd(), user_memory)?;
        mem::forget(guard);
        Ok(ring)
    }

    /// Adopts the io_uring instance `fd`, set up elsewhere (a raw
    /// `io_uring_setup`, another library, a descriptor passed from another
    /// process) with the parameters its setup wrote back, `params`: maps
    /// its queues and returns a ring that owns the descriptor (liburing's
    /// `io_uring_queue_mmap`). Completions already in its CQ, and those of
    /// ops still in flight, reach the ring as completions of no op of its
    /// own. A ring set up disabled counts as disabled until
    /// [`enable`](Ring::enable). An op flagged `IO_DRAIN` that the previous
    /// user left in flight keeps the kernel's drain on: zero-copy sends and
    /// a reactor then wait for it as on any ring that took a drain (see the
    /// README's "Not there yet"). A clock the previous user registered for
    /// waits (`IORING_REGISTER_CLOCK`) is not known to the ring, which
    /// gives the kernel its absolute wait deadlines on `CLOCK_MONOTONIC`:
    /// if another was registered, register it again with
    /// [`register_clock`](Ring::register_clock), or those waits end early
    /// or late by the clocks' difference.
    ///
    /// An error when `params` asks for other SQEs or CQEs than this ring
    /// type's (`S`, `C`), when the ring's memory is the setup caller's
    /// (`IORING_SETUP_NO_MMAP`) or it has no descriptor
    /// (`IORING_SETUP_REGISTERED_FD_ONLY`), when its SQ holds SQEs not
    /// submitted (submit them first: they are the previous user's), when
    /// the kernel lacks `IORING_FEAT_SUBMIT_STABLE` (5.5), or when mapping
    /// fails. The descriptor is closed then too.
    ///
    /// # Safety
    ///
    /// - `fd` is an io_uring instance and `params` is what its setup wrote
    ///   back: the queues are mapped and read at the offsets it gives.
    /// - Nothing else uses the ring's queues while the returned ring lives:
    ///   no other [`Ring`] (of this process, or of another through a shared
    ///   descriptor or mapping) pushes SQEs, reads CQEs or enters it. Two
    ///   users of one SQ overwrite each other's SQEs, and a scope relies on
    ///   being the only reader of the CQ.
    /// - What every op already in flight points to stays valid until its
    ///   completion: the ring knows nothing of those ops.
    pub unsafe fn from_fd(
        fd: std::os::fd::OwnedFd,
        params: &sys::io_uring_params,
    ) -> Result<Ring<S, C>> {
        use std::os::fd::IntoRawFd;
        let p = *params;
        const SIZES: u32 =
            sys::IORING_SETUP_SQE128 | sys::IORING_SETUP_CQE32 | sys::IORING_SETUP_CQE_MIXED;
        // Flags past `CQE_MIXED` (6.18): mixed SQE sizes, an SQ that
        // ignores its head and tail, which this library does not map.
        if p.flags >> 19 != 0 {
            return Err(Error::Setup(
                "the ring was set up with flags this library does not know (past Linux 6.18's)",
            ));
        }
        if p.flags & SIZES != S::SETUP | C::SETUP {
            return Err(Error::Setup(
                "the ring's SQE or CQE size is not this ring type's: adopt it as a Ring of \
                 matching SqeSize and CqeSize",
            ));
        }
        if p.flags & (sys::IORING_SETUP_NO_MMAP | sys::IORING_SETUP_REGISTERED_FD_ONLY) != 0 {
            return Err(Error::Setup(
                "a ring whose memory is its setup caller's (NO_MMAP), or that has no \
                 descriptor (REGISTERED_FD_ONLY), cannot be adopted",
            ));
        }
        if p.features & sys::IORING_FEAT_SUBMIT_STABLE == 0 {
            return Err(Error::Setup(
                "this kernel lacks IORING_FEAT_SUBMIT_STABLE (5.5): it may read an op's \
                 arguments after their SQE is reused",
            ));
        }
        let fd = fd.into_raw_fd();
        let guard = FdGuard(fd);
        let ring = Self::map_with(fd, p, None, None, true)?;
        mem::forget(guard);
        // Ops of the previous user may be in flight: its scopes tag every
        // op, so that no completion of theirs passes for one of a scope's
        // untagged ops.
        ring.outside.set(true);
        Ok(ring)
    }

    /// The bytes `Builder::build_in` needs for a ring of `entries` made by
    /// `builder`.
    pub(crate) fn memory_size(builder: &Builder<'_>, entries: u32) -> Result<usize> {
        let mut p = builder.params(entries)?;
        p.flags |= S::SETUP | C::SETUP | sys::IORING_SETUP_NO_MMAP;
        check_mixed_cq::<C>(&p)?;
        RingLayout::for_setup(&p, entries)?.total()
    }

    /// The bytes [`resize_in`](Ring::resize_in) needs to resize this ring
    /// to `sq_entries` and `cq_entries`, counted as
    /// [`Builder::ring_memory_size`] counts them; for sizes no resize
    /// takes (no entries, more than the kernel's maxima, a CQ smaller than
    /// the SQ), the error [`resize`](Ring::resize) gives (`EINVAL`).
    pub fn resize_memory_size(&self, sq_entries: u32, cq_entries: u32) -> Result<usize> {
        if !resize_sizes_valid(sq_entries, cq_entries, C::MAX_SLOTS) {
            return Err(resize_refused());
        }
        RingLayout::for_setup(&self.resize_params(sq_entries, cq_entries), sq_entries)?.total()
    }

    /// The parameters of a resize to `sq_entries` and `cq_entries`, with
    /// the layout flags of the ring.
    fn resize_params(&self, sq_entries: u32, cq_entries: u32) -> sys::io_uring_params {
        let copied = self.setup_flags
            & (sys::IORING_SETUP_NO_SQARRAY
                | sys::IORING_SETUP_SQE128
                | sys::IORING_SETUP_CQE32
                | sys::IORING_SETUP_NO_MMAP
                | sys::IORING_SETUP_CQE_MIXED);
        sys::io_uring_params {
            sq_entries,
            cq_entries,
            flags: copied | sys::IORING_SETUP_CQSIZE,
            ..Default::default()
        }
    }

    fn map(
        fd: RawFd,
        p: sys::io_uring_params,
        attached_to: Option<RawFd>,
        user_memory: Option<RingMemory>,
    ) -> Result<Ring<S, C>> {
        Self::map_with(fd, p, attached_to, user_memory, false)
    }

    /// [`map`](Self::map); `adopted` for a ring set up elsewhere, whose SQ
    /// must be found idle.
    fn map_with(
        fd: RawFd,
        p: sys::io_uring_params,
        attached_to: Option<RawFd>,
        user_memory: Option<RingMemory>,
        adopted: bool,
    ) -> Result<Ring<S, C>> {
        let id = next_ring_id()?;
        let stable = Mapping::anonymous(p.sq_entries as usize * mem::size_of::<Timespec>())?;
        let (mut sq, cq, maps) = map_queues(
            fd,
            &p,
            user_memory,
            None,
            stable.as_ptr().cast(),
            id,
            adopted,
        )?;
        sq.flags_believed = crate::squeue::believed_sq_flags(p.flags);
        let mut ring = Ring {
            sq,
            cq,
            enter_fd: fd,
            enter_flags: 0,
            wait_flags: sys::IORING_ENTER_GETEVENTS,
            registered_by: 0,
            setup_flags: p.flags,
            fd,
            params: Params(p),
            id,
            attached_to,
            _maps: maps,
            stable: Some(stable),
            dontfork: false,
            disabled: p.flags & sys::IORING_SETUP_R_DISABLED != 0,
            virtual_cq: None,
            scope_table: ScopeTable::default(),
            wait_region: None,
            outside: std::cell::Cell::new(false),
            msg_targets: std::cell::OnceCell::new(),
            fast_wait_limit: 0,
            wait_error: None,
            wait_clock: crate::Clock::Monotonic,
            personalities: std::collections::HashMap::new(),
            personality_count: 0,
            sqe_rules: None,
        };
        ring.set_fast_wait_limit();
        Ok(ring)
    }

    /// Resizes the SQ to `sq_entries` and the CQ to `cq_entries` (rounded up
    /// to powers of two), keeping the completions waiting in the CQ
    /// (`IORING_REGISTER_RESIZE_RINGS`, 6.13; the kernel takes it from
    /// rings made with [`Builder::defer_taskrun`]). SQEs pushed and not yet
    /// submitted are submitted first; an error if the kernel does not take
    /// them all, or if completions a scope set aside are still unread.
    /// Sizes the kernel never takes (0, a CQ smaller than the SQ, past its
    /// maximum) are refused with its `EINVAL` before anything is submitted.
    /// A CQ too small for the completions waiting (in it and in the
    /// kernel's overflow list) is the kernel's `EOVERFLOW`: read them, then
    /// resize. A
    /// ring the kernel does not resize is refused with
    /// [`Error::InvalidArgument`] at any sizes, its own included; a
    /// single-issuer ring asked from a thread other than its submitter's
    /// gets `EEXIST`, the ring left as it was.
    pub fn resize(&mut self, sq_entries: u32, cq_entries: u32) -> Result<()> {
        self.resize_with(sq_entries, cq_entries, None)
    }

    /// [`resize`](Ring::resize), with the new SQEs and rings in `memory`,
    /// laid out as [`Builder::build_in`] lays them out; it needs
    /// [`resize_memory_size`](Ring::resize_memory_size) bytes. For rings
    /// whose memory is not the kernel's (`IORING_SETUP_NO_MMAP`: made with
    /// [`Builder::build_in`], [`Builder::no_mmap`] or
    /// [`Builder::registered_fd_only`]); others refuse with
    /// [`Error::InvalidArgument`], as does memory too small.
    ///
    /// Whatever the ring lived in before is released once the kernel has
    /// moved to `memory`, which it lets go of within the resize. A plain
    /// [`resize`](Ring::resize) of a ring in given memory moves it to
    /// memory the library allocates. On an error, or when the sizes are
    /// those the ring has, `memory` is released unused.
    pub fn resize_in(
        &mut self,
        sq_entries: u32,
        cq_entries: u32,
        memory: RingRegion,
    ) -> Result<()> {
        if !self.has_setup(sys::IORING_SETUP_NO_MMAP) {
            return Err(Error::InvalidArgument(
                "resize_in is for rings made with NO_MMAP; this ring's memory is the kernel's"
                    .into(),
            ));
        }
        self.resize_with(sq_entries, cq_entries, Some(memory))
    }

    fn resize_with(
        &mut self,
        sq_entries: u32,
        cq_entries: u32,
        given: Option<RingRegion>,
    ) -> Result<()> {
        // A copy of set-aside completions that has been read to its end is
        // left here, as the next read would leave it.
        self.leave_virtual_cq();
        if self.virtual_cq.is_some() {
            return Err(Error::InvalidArgument(
                "completions a scope set aside are still unread".into(),
            ));
        }
        if self.fd < 0 && !self.has_setup(sys::IORING_SETUP_NO_MMAP) {
            // The resized queues of a ring the kernel allocated are mapped
            // from its descriptor: without one (`registered_fd_only`,
            // `close_ring_fd`), the kernel would swap in queues the ring can
            // never map, so it is not asked.
            return Err(Error::os(
                "IORING_REGISTER_RESIZE_RINGS (the kernel's new queues are mapped from the \
                 ring's descriptor, which this ring has not)",
                std::io::Error::from_raw_os_error(libc::EBADF),
            ));
        }
        if !resize_sizes_valid(sq_entries, cq_entries, C::MAX_SLOTS) {
            // What the kernel answers, asked before anything is submitted
            // or allocated for sizes it never takes.
            return Err(resize_refused());
        }
        self.submit()?;
        if self.sq.unconsumed() != 0 {
            return Err(Error::InvalidArgument(
                "the kernel has not consumed every SQE pushed".into(),
            ));
        }
        // The kernel does nothing, and says nothing back, when asked for the
        // sizes the ring has, of a ring it resizes. One it refuses to
        // resize (on Linux 6.18, every ring without `defer_taskrun`) is
        // refused whatever the sizes: the kernel is asked, and says so.
        if sq_entries == self.params.0.sq_entries
            && cq_entries == self.params.0.cq_entries
            && self.has_setup(sys::IORING_SETUP_DEFER_TASKRUN)
        {
            return Ok(());
        }
        // Where the kernel will put the new SQ array, should it not say:
        // after the CQEs, at its cache line, one of those the ring's layout
        // allows. A layout no line explains, or new sizes for which the
        // lines it allows put the array in different places, are not
        // guessed at: the kernel would read SQE indices from an array the
        // ring does not write.
        let mut p = self.resize_params(sq_entries, cq_entries);
        let lines = if self.has_setup(sys::IORING_SETUP_NO_SQARRAY) {
            Vec::new()
        } else {
            let lines = cache_lines_of(&self.params.0);
            // The new rings as the kernel lays them out: the same header,
            // the CQ rounded up to a power of two.
            let new = sys::io_uring_params {
                cq_entries: cq_entries.next_power_of_two(),
                flags: p.flags,
                cq_off: self.params.0.cq_off,
                ..Default::default()
            };
            if sq_array_offset_on(&new, &lines).is_none() {
                return Err(unknown_sq_array());
            }
            lines
        };
        let copied = p.flags & !sys::IORING_SETUP_CQSIZE;
        let layout = RingLayout::for_setup(&p, sq_entries)?;
        let user_memory = match given {
            Some(region) => Some(RingMemory::in_region(&mut p, &layout, region)?),
            None if copied & sys::IORING_SETUP_NO_MMAP != 0 => {
                Some(RingMemory::for_params(&mut p, &layout, false)?)
            }
            None => None,
        };
        // What the new queues need of the process is had before the kernel
        // switches to them: a failure after it would leave the ring with
        // queues the kernel no longer reads. So the ring-owned timespecs
        // are allocated now, and for rings in the kernel's memory, address
        // space as large as the new rings is reserved, and given back just
        // before they are mapped (which a limit on the address space then
        // does not refuse).
        let stable = Mapping::anonymous(layout.sq_entries * mem::size_of::<Timespec>())?;
        let reserved = match user_memory {
            Some(_) => None,
            None => Some(Reserved {
                _rings: Mapping::reserve(layout.rings_len)?,
                _sqes: Mapping::reserve(layout.sqes_len)?,
            }),
        };
        // The kernel copies the CQEs from its head to its tail into the new
        // rings: it must see every completion read so far as read (a
        // forgotten iterator moves only the ring's copy of the head), or
        // they would come out again.
        let head = self.cq.head();
        self.cq.publish_head();
        if let Some(m) = &user_memory {
            // The rings' first bytes, where the kernel writes the new
            // rings' sizes as it switches to them, start as zero: what is
            // found there after the call tells whether it did (below).
            // SAFETY: `m.rings` is `m.rings_len` bytes of memory given to
            // the new rings, mapped and writable, which the kernel has not
            // seen yet.
            unsafe { std::ptr::write_bytes(m.rings, 0, m.rings_len.min(RINGS_HEADER)) };
        }
        // The kernel takes only the size flags in a resize (anything else
        // is EINVAL) and gives the new rings the ring's own layout flags
        // itself: the layout ones served the user memory's sizes above, and
        // serve the mapping below.
        p.flags = sys::IORING_SETUP_CQSIZE;
        let resized = self.register(
            sys::IORING_REGISTER_RESIZE_RINGS,
            (&mut p as *mut sys::io_uring_params).cast(),
            1,
            "IORING_REGISTER_RESIZE_RINGS",
        );
        p.flags |= copied;
        match resized {
            // Linux 6.18 resizes only `defer_taskrun` rings: the error says
            // so (still `EINVAL`).
            Err(e)
                if e.raw_os_error() == Some(libc::EINVAL)
                    && !self.has_setup(sys::IORING_SETUP_DEFER_TASKRUN) =>
            {
                return Err(Error::InvalidArgument(
                    "IORING_REGISTER_RESIZE_RINGS refused: the kernel resizes rings built with \
                     defer_taskrun() (IORING_SETUP_DEFER_TASKRUN)"
                        .into(),
                ));
            }
            other => other?,
        };
        if p.cq_off.cqes == 0 {
            // Nothing was resized: the ring's queues are as they were.
            return Ok(());
        }
        if let Some(m) = &user_memory
            && !switched_to(m, &p)
        {
            // Kernels before 6.18 answer a resize to the sizes the ring has
            // once rounded with success and the new layout, and keep their
            // rings: the memory given was never used.
            return Ok(());
        }
        if p.flags & sys::IORING_SETUP_NO_SQARRAY == 0 && p.sq_off.array == 0 {
            // Kernels that lay out resized rings as new ones but do not say
            // where the SQ array went: it follows the CQEs, aligned to the
            // cache line, where every line the ring's own layout allows
            // puts it (checked above for the sizes the kernel gives).
            p.sq_off.array = sq_array_offset_on(&p, &lines).ok_or_else(unknown_sq_array)?;
        }
        // The kernel's rings are new: map them in the reservations' stead
        // (or point into the new user memory) and rebuild the queues. The old
        // mappings stay until the new ones are in place, then go; no SQE
        // refers to the old timespecs, since every one was consumed.
        let stable = if p.sq_entries as usize <= layout.sq_entries {
            stable
        } else {
            // More entries than the kernel's rounding gives: never seen.
            Mapping::anonymous(p.sq_entries as usize * mem::size_of::<Timespec>())?
        };
        // A resize reports no features: the ring's own say how its rings
        // are mapped (in one, on every kernel that resizes, which is what
        // the reservations were sized for).
        p.features = self.params.0.features;
        let (sq, cq, maps) = map_queues(
            self.fd,
            &p,
            user_memory,
            reserved,
            stable.as_ptr().cast(),
            self.id,
            false,
        )?;
        let drain = self.sq.drain;
        let shared_sq_thread = self.sq.shared_sq_thread.get();
        self.sq = sq;
        // The kernel's drain, and the SQ thread, outlive the resize, as
        // does what the setup lets the SQ flags mean.
        self.sq.drain = drain;
        self.sq.shared_sq_thread.set(shared_sq_thread);
        self.sq.flags_believed = crate::squeue::believed_sq_flags(self.setup_flags);
        self.cq = cq;
        if self.cq.head() != head {
            // The kernel numbered the new CQ otherwise than it says it does:
            // its completions can no longer be told from ones read before,
            // so every later scope tags every op.
            self.outside.set(true);
        }
        self.set_fast_wait_limit();
        self._maps = maps;
        self.stable = Some(stable);
        self.params.0.sq_entries = p.sq_entries;
        self.params.0.cq_entries = p.cq_entries;
        self.params.0.sq_off = p.sq_off;
        self.params.0.cq_off = p.cq_off;
        if self.dontfork {
            // The new memory is kept from children as the old was.
            self.mark_dontfork()?;
        }
        Ok(())
    }

    /// Keeps the ring's memory out of the children this process makes
    /// with `fork(2)`, as liburing's `io_uring_ring_dontfork` does: every
    /// mapping the ring owns is marked `MADV_DONTFORK`, so that a child has
    /// nothing mapped at their addresses. That is the SQ and CQ rings and
    /// the SQEs (the kernel's mappings of them, the memory the library
    /// allocated for a ring made with [`Builder::no_mmap`], or, for one
    /// made with [`Builder::build_in`], the whole [`RingRegion`] given,
    /// which the ring owns), and the timespecs the ring keeps for the
    /// kernel; a [`resize`](Ring::resize) marks the memory it moves the
    /// ring to as well (should that fail, the ring is resized all the
    /// same, and the error returned). Buffer rings, registered buffers and
    /// wait regions are mapped apart and keep their own behaviour.
    ///
    /// Why: after `fork`, only the parent may use the ring. A child
    /// inherits the ring's descriptor and a copy of the `Ring` value, but
    /// the kernel's ring is the parent's: what the child wrote to shared
    /// queue memory (an SQE, a head or a tail) would change the parent's
    /// ring under it. Without this, the kernel's mappings, which are
    /// shared, stay shared with the child, as does a region mapped from a
    /// file ([`RingRegion::from_file`]); private memory the kernel pinned
    /// for a ring is copied into the child at the fork. With it, the child
    /// gets no copy of the ring's pages, and one that touches them faults
    /// instead.
    ///
    /// Marking twice does nothing more. Errors with the `madvise` error.
    pub fn dontfork(&mut self) -> Result<()> {
        self.mark_dontfork()?;
        self.dontfork = true;
        Ok(())
    }

    /// `MADV_DONTFORK` on every mapping of the ring.
    fn mark_dontfork(&self) -> Result<()> {
        for map in self._maps.iter().chain(&self.stable) {
            map.dont_fork()?;
        }
        Ok(())
    }
}

/// The kernel's answer to a resize to sizes it never takes.
fn resize_refused() -> Error {
    Error::os(
        "IORING_REGISTER_RESIZE_RINGS",
        std::io::Error::from_raw_os_error(libc::EINVAL),
    )
}

/// Whether the kernel takes `sq_entries` and `cq_entries` for a resize
/// (`io_uring_fill_params`, without `IORING_SETUP_CLAMP`): neither 0 nor
/// past its maximum, and the CQ, rounded up to a power of two, at least as
/// large as the SQ and as the largest completion (`max_slots` of the CQ's
/// slots: a mixed CQ of one entry cannot hold a 32-byte completion, which
/// the kernel answers with `EOVERFLOW` whatever the CQ holds).
fn resize_sizes_valid(sq_entries: u32, cq_entries: u32, max_slots: u32) -> bool {
    (1..=sys::IORING_MAX_ENTRIES).contains(&sq_entries)
        && (1..=sys::IORING_MAX_CQ_ENTRIES).contains(&cq_entries)
        && cq_entries.next_power_of_two() >= sq_entries.next_power_of_two()
        && cq_entries >= max_slots
}

/// A mixed CQ's setup asks for room for a 32-byte completion at the least:
/// the kernel refuses a smaller one (`EOVERFLOW`).
fn check_mixed_cq<C: CqeSize>(p: &sys::io_uring_params) -> Result<()> {
    if C::MAX_SLOTS > 1 && p.flags & sys::IORING_SETUP_CQSIZE != 0 && p.cq_entries < 2 {
        return Err(Error::Setup("a mixed CQ needs at least 2 entries"));
    }
    Ok(())
}

/// Where the kernel puts the SQ array in the rings that `p` describes:
/// after the CQEs, aligned to the kernel's cache line `line`
/// (`rings_size()` in the kernel).
fn sq_array_offset(p: &sys::io_uring_params, line: u32) -> u32 {
    let cqes = p.cq_off.cqes + p.cq_entries * mem::size_of::<sys::io_uring_cqe>() as u32;
    // With 32-byte CQEs the kernel doubles the whole size, header included.
    let end = cqes << u32::from(p.flags & sys::IORING_SETUP_CQE32 != 0);
    end.div_ceil(line) * line
}

/// The cache lines the kernel may have (64 bytes on x86-64 and arm64, 128
/// on ppc64, 256 on s390) that explain the layout of rings it reported
/// (`p`, with an SQ array): the CQEs start on a line
/// (`____cacheline_aligned_in_smp`), and `sq_array_offset` puts the array
/// where the kernel put it. None if no line does; more than one when the
/// layout cannot tell them apart.
fn cache_lines_of(p: &sys::io_uring_params) -> Vec<u32> {
    [64, 128, 256]
        .into_iter()
        .filter(|&line| {
            p.cq_off.cqes.is_multiple_of(line) && sq_array_offset(p, line) == p.sq_off.array
        })
        .collect()
}

/// Where the kernel puts the SQ array of rings laid out as `p` says, on a
/// machine whose cache line is one of `lines`: `None` if there are none,
/// or if they put it in different places.
fn sq_array_offset_on(p: &sys::io_uring_params, lines: &[u32]) -> Option<u32> {
    let (&first, rest) = lines.split_first()?;
    let offset = sq_array_offset(p, first);
    rest.iter()
        .all(|&line| sq_array_offset(p, line) == offset)
        .then_some(offset)
}

/// The error of a resize whose new SQ array this ring cannot place.
fn unknown_sq_array() -> Error {
    Error::os(
        "IORING_REGISTER_RESIZE_RINGS (the kernel's SQ array is not where this ring can tell a \
         resize would put it)",
        std::io::Error::from_raw_os_error(libc::EOPNOTSUPP),
    )
}

/// Maps the queues of the ring `fd` that `p` describes (or points into
/// `user_memory`, for a ring made with NO_MMAP), and builds them over
/// `stable`, the ring-owned timespecs of `p.sq_entries` slots.
fn map_queues<S: SqeSize, C: CqeSize>(
    fd: RawFd,
    p: &sys::io_uring_params,
    user_memory: Option<RingMemory>,
    reserved: Option<Reserved>,
    stable: *mut Timespec,
    id: u32,
    adopted: bool,
) -> Result<(Sq<S>, Cq<C>, Vec<Mapping>)> {
    let cqe_size =
        mem::size_of::<sys::io_uring_cqe>() << usize::from(p.flags & sys::IORING_SETUP_CQE32 != 0);
    let sqe_size =
        mem::size_of::<sys::io_uring_sqe>() << usize::from(p.flags & sys::IORING_SETUP_SQE128 != 0);
    let no_sqarray = p.flags & sys::IORING_SETUP_NO_SQARRAY != 0;
    // The layout a resize relies on when the kernel does not report it.
    debug_assert!(no_sqarray || !cache_lines_of(p).is_empty());
    let sq_len = if no_sqarray {
        p.sq_off.dropped as usize + mem::size_of::<u32>()
    } else {
        p.sq_off.array as usize + p.sq_entries as usize * mem::size_of::<u32>()
    };
    let cq_len = p.cq_off.cqes as usize + p.cq_entries as usize * cqe_size;
    let sqes_len = p.sq_entries as usize * sqe_size;
    let (sq_ptr, cq_ptr, sqes_ptr, maps) = match user_memory {
        Some(memory) => {
            // The kernel laid its rings out in the memory it was given:
            // check that what it says fits before trusting it.
            if sq_len.max(cq_len) > memory.rings_len || sqes_len > memory.sqes_len {
                return Err(Error::Setup(
                    "the kernel's rings do not fit the memory given",
                ));
            }
            (memory.rings, memory.rings, memory.sqes, memory.maps)
        }
        None => {
            let single = p.features & sys::IORING_FEAT_SINGLE_MMAP != 0;
            let (sq_len, cq_len) = if single {
                (sq_len.max(cq_len), sq_len.max(cq_len))
            } else {
                (sq_len, cq_len)
            };
            // A resize's reservations give back the address space the new
            // rings take, just before they are mapped: the kernel maps a
            // ring only where it chooses (`io_uring_get_unmapped_area`
            // refuses an address, `MAP_FIXED` over a reservation too).
            drop(reserved);
            let sq_map = Mapping::ring(fd, sq_len, sys::IORING_OFF_SQ_RING)?;
            let cq_map = if single {
                None
            } else {
                Some(Mapping::ring(fd, cq_len, sys::IORING_OFF_CQ_RING)?)
            };
            let sqes_map = Mapping::ring(fd, sqes_len, sys::IORING_OFF_SQES)?;
            let sq_ptr = sq_map.as_ptr();
            let cq_ptr = cq_map.as_ref().unwrap_or(&sq_map).as_ptr();
            let sqes_ptr = sqes_map.as_ptr();
            let maps = [Some(sq_map), cq_map, Some(sqes_map)]
                .into_iter()
                .flatten()
                .collect();
            (sq_ptr, cq_ptr, sqes_ptr, maps)
        }
    };
    if adopted {
        // SAFETY: `head` and `tail` are offsets of the live SQ ring mapping
        // (the caller's contract for an adopted ring's `p`), naturally
        // aligned u32s the kernel shares, hence atomics.
        let (head, tail) = unsafe {
            let at = |o: u32| {
                &*sq_ptr
                    .add(o as usize)
                    .cast::<std::sync::atomic::AtomicU32>()
            };
            (
                at(p.sq_off.head).load(std::sync::atomic::Ordering::Acquire),
                at(p.sq_off.tail).load(std::sync::atomic::Ordering::Acquire),
            )
        };
        if head != tail {
            // The queue would start at the head, giving up SQEs that an
            // SQ thread may be reading.
            return Err(Error::Setup(
                "the ring's SQ holds SQEs not submitted: submit them before adopting it",
            ));
        }
    }
    // SAFETY: the mappings are live and sized from the kernel's offsets
    // (checked above for user memory); they and the timespec array are
    // owned by the ring and outlive the queues, which are dropped with it.
    let (sq, cq) = unsafe {
        (
            Sq::new(sq_ptr, &p.sq_off, sqes_ptr.cast(), stable, no_sqarray, id),
            Cq::new(cq_ptr, &p.cq_off),
        )
    };
    Ok((sq, cq, maps))
}

/// The header of the kernel's `struct io_rings` before the CQEs, at most:
/// 48 bytes of indices and flags, the CQEs then aligned to the kernel's
/// cache line (`cq_off.cqes` reports it: 64 on x86-64, up to 256 on
/// architectures with longer lines).
const RINGS_HEADER_MAX: usize = 256;

/// How much memory the kernel uses for a ring made with
/// `IORING_SETUP_NO_MMAP`: `rings_size()` and the SQE array in the
/// kernel's `io_allocate_scq_urings`, each a region of whole pages.
#[derive(Clone, Copy, Debug)]
struct RingLayout {
    /// SQ entries, rounded up as the kernel rounds them.
    sq_entries: usize,
    /// The SQ and CQ rings: header, CQEs, SQ index array.
    rings_len: usize,
    /// The SQEs.
    sqes_len: usize,
}

impl RingLayout {
    /// The layout of the rings `p` and `entries` ask for: after clamping
    /// (`IORING_SETUP_CLAMP`, which the kernel applies before it rounds up)
    /// and rounding up to powers of two, as the kernel does; never less than
    /// the kernel uses.
    fn for_setup(p: &sys::io_uring_params, entries: u32) -> Result<RingLayout> {
        let (entries, cq_entries) = if p.flags & sys::IORING_SETUP_CLAMP != 0 {
            (
                entries.min(sys::IORING_MAX_ENTRIES),
                p.cq_entries.min(sys::IORING_MAX_CQ_ENTRIES),
            )
        } else {
            (entries, p.cq_entries)
        };
        let sq = entries.checked_next_power_of_two().unwrap_or(u32::MAX) as usize;
        let cq = if p.flags & sys::IORING_SETUP_CQSIZE != 0 {
            cq_entries.checked_next_power_of_two().unwrap_or(u32::MAX) as usize
        } else {
            2 * sq
        };
        let overflow = || Error::Setup("ring sizes overflow");
        let cqe32 = p.flags & sys::IORING_SETUP_CQE32 != 0;
        let sqe_size = mem::size_of::<sys::io_uring_sqe>()
            << usize::from(p.flags & sys::IORING_SETUP_SQE128 != 0);
        // The header and 16-byte CQEs, the whole doubled for 32-byte CQEs
        // (header included, as the kernel counts it), then the SQ index
        // array at the next cache line.
        let cqes_end = cq
            .checked_mul(mem::size_of::<sys::io_uring_cqe>())
            .and_then(|n| n.checked_add(RINGS_HEADER_MAX))
            .and_then(|n| n.checked_mul(1 + usize::from(cqe32)))
            .and_then(|n| n.checked_next_multiple_of(RINGS_HEADER_MAX))
            .ok_or_else(overflow)?;
        let sq_array = if p.flags & sys::IORING_SETUP_NO_SQARRAY != 0 {
            0
        } else {
            sq * mem::size_of::<u32>()
        };
        let page = page_size();
        let rings_len = cqes_end
            .checked_add(sq_array)
            .and_then(|n| n.checked_next_multiple_of(page))
            .ok_or_else(overflow)?;
        let sqes_len = sq
            .checked_mul(sqe_size)
            .and_then(|n| n.checked_next_multiple_of(page))
            .ok_or_else(overflow)?;
        Ok(RingLayout {
            sq_entries: sq,
            rings_len,
            sqes_len,
        })
    }

    /// Both regions, back to back.
    fn total(&self) -> Result<usize> {
        self.sqes_len
            .checked_add(self.rings_len)
            .ok_or(Error::Setup("ring sizes overflow"))
    }
}

/// The memory of a ring made with `IORING_SETUP_NO_MMAP`: where its rings
/// and SQEs are, how much of each there is, and the mappings that hold
/// them, which the ring keeps until it is dropped.
/// The bytes at the start of a ring's rings that hold the kernel's heads,
/// tails, masks and sizes: `struct io_rings` up to its CQEs.
const RINGS_HEADER: usize = 256;

/// Whether the kernel switched to the rings in `m`, of the sizes in `p`,
/// whose first [`RINGS_HEADER`] bytes were zeroed before the resize: it
/// writes the CQ's size there as it sets them up.
fn switched_to(m: &RingMemory, p: &sys::io_uring_params) -> bool {
    let at = p.cq_off.ring_entries as usize;
    if at + mem::size_of::<u32>() > m.rings_len.min(RINGS_HEADER) {
        // Not among the zeroed bytes (no kernel lays it out there).
        return true;
    }
    // SAFETY: `at` is inside the mapped rings (checked above), and the
    // kernel writes this word only while it sets the rings up, in the
    // call that returned.
    let entries = unsafe { m.rings.add(at).cast::<u32>().read_unaligned() };
    entries == p.cq_entries
}

struct RingMemory {
    rings: *mut u8,
    rings_len: usize,
    sqes: *mut u8,
    sqes_len: usize,
    maps: Vec<Mapping>,
}

impl RingMemory {
    /// Allocates memory for the rings of `layout`, and points
    /// `p` at it: one mapping for the SQ and CQ rings, one for the SQEs,
    /// each followed by an inaccessible page, so that a kernel that needs
    /// more than was allocated fails the setup instead of using what
    /// follows.
    fn for_params(
        p: &mut sys::io_uring_params,
        layout: &RingLayout,
        huge: bool,
    ) -> Result<RingMemory> {
        let rings = GuardedMapping::new(layout.rings_len, huge)?;
        let sqes = GuardedMapping::new(layout.sqes_len, huge)?;
        p.cq_off.user_addr = rings.as_ptr() as u64;
        p.sq_off.user_addr = sqes.as_ptr() as u64;
        Ok(RingMemory {
            rings: rings.as_ptr(),
            rings_len: rings.len(),
            sqes: sqes.as_ptr(),
            sqes_len: sqes.len(),
            maps: vec![rings.into_mapping(), sqes.into_mapping()],
        })
    }

    /// Lays out the rings of `layout` in `region`, the SQEs
    /// first and the rings after them (the kernel pins each part's pages
    /// from its page-aligned start), and points `p` at them. An error,
    /// before the kernel sees anything, if the region is too small.
    fn in_region(
        p: &mut sys::io_uring_params,
        layout: &RingLayout,
        region: RingRegion,
    ) -> Result<RingMemory> {
        let needed = layout.total()?;
        if region.len < needed {
            return Err(Error::InvalidArgument(format!(
                "the ring needs {needed} bytes of memory; the region given has {}",
                region.len
            )));
        }
        let sqes = region.map.as_ptr();
        // SAFETY: `layout.sqes_len + layout.rings_len <= region.len`: the
        // rings start inside the region.
        let rings = unsafe { sqes.add(layout.sqes_len) };
        p.cq_off.user_addr = rings as u64;
        p.sq_off.user_addr = sqes as u64;
        Ok(RingMemory {
            rings,
            rings_len: layout.rings_len,
            sqes,
            sqes_len: layout.sqes_len,
            maps: vec![region.map],
        })
    }
}

/// An anonymous mapping followed by an inaccessible page.
struct GuardedMapping {
    map: Mapping,
    len: usize,
}

impl GuardedMapping {
    fn new(len: usize, huge: bool) -> Result<GuardedMapping> {
        let page = if huge { 2 << 20 } else { 4096 };
        let len = len.div_ceil(page) * page;
        let map = if huge {
            Mapping::huge(len + page)?
        } else {
            Mapping::anonymous(len + page)?
        };
        // SAFETY: the last page is this mapping's own; nothing uses it.
        unsafe { sys::protect_none(map.as_ptr().add(len).cast(), page) }
            .map_err(|e| Error::os("mprotect", e))?;
        Ok(GuardedMapping { map, len })
    }

    fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn into_mapping(self) -> Mapping {
        self.map
    }
}

/// Address space reserved for a resize's new rings, before the kernel
/// switches to them: held, and given back by its drop.
struct Reserved {
    _rings: Mapping,
    _sqes: Mapping,
}

/// Unregisters a ring index of this thread on drop, unless forgotten.
struct IndexGuard(RawFd);

impl Drop for IndexGuard {
    fn drop(&mut self) {
        let update = crate::register::ring_index_update(self.0);
        // SAFETY: `update` lives for the call, which reads one entry; the
        // index is this thread's, named through its registered rings.
        let _ = unsafe {
            sys::io_uring_register(
                self.0,
                sys::IORING_UNREGISTER_RING_FDS | sys::IORING_REGISTER_USE_REGISTERED_RING,
                (&update as *const sys::io_uring_rsrc_update).cast(),
                1,
            )
        };
    }
}

/// Closes a descriptor unless forgotten.
struct FdGuard(RawFd);

impl Drop for FdGuard {
    fn drop(&mut self) {
        // SAFETY: the guard owns the descriptor until it is forgotten.
        let _ = unsafe { sys::close(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rings laid out with 64-, 128- and 256-byte cache lines: the lines
    /// are found from where the kernel put the CQEs and the SQ array; a
    /// layout no line explains is not guessed at, nor are new sizes for
    /// which the lines a layout allows put the array in different places.
    #[test]
    fn the_cache_line_is_read_from_the_ring_s_layout() {
        let mut p = sys::io_uring_params {
            cq_entries: 4,
            ..Default::default()
        };
        // 64-byte lines: the CQEs at 64, end at 128, the array there.
        p.cq_off.cqes = 64;
        p.sq_off.array = 128;
        assert_eq!(cache_lines_of(&p), [64]);
        // 128-byte lines: the CQEs at 128, end at 192, the array at 256.
        p.cq_off.cqes = 128;
        p.sq_off.array = 256;
        assert_eq!(cache_lines_of(&p), [128]);
        assert_eq!(sq_array_offset(&p, 64), 192);
        // The same line, 8 CQEs: they end at 256, where 64-byte lines
        // would put the array too. Resized to 4 CQEs, the two lines part
        // (192 or 256): not guessed; to 16, both put it at 384.
        p.cq_entries = 8;
        let lines = cache_lines_of(&p);
        assert_eq!(lines, [64, 128]);
        p.cq_entries = 4;
        assert_eq!(sq_array_offset_on(&p, &lines), None);
        p.cq_entries = 16;
        assert_eq!(sq_array_offset_on(&p, &lines), Some(384));
        assert_eq!(sq_array_offset_on(&p, &[]), None);
        // 256-byte lines, 32-byte CQEs: (256 + 64) * 2 = 640, at 768.
        p.cq_entries = 4;
        p.cq_off.cqes = 256;
        p.flags = sys::IORING_SETUP_CQE32;
        p.sq_off.array = 768;
        assert_eq!(cache_lines_of(&p), [256]);
        // Nowhere a line would put it.
        p.sq_off.array = 700;
        assert!(cache_lines_of(&p).is_empty());
    }
}
