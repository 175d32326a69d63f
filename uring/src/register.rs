//! `io_uring_register(2)`: files, buffers, the ring fd, eventfds, io-wq
//! workers, personalities, restrictions, synchronous cancellation, NAPI.
//! Registration returns handles, not bare integers.

use crate::args::FixedBuf;
use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, HandleError, Result};
use crate::op::Entry;
use crate::ring::Ring;
use crate::sys;
use crate::types::{Fixed, FixedMut, IntoTarget, Target, Timespec};
use std::cell::Cell;
use std::io::IoSliceMut;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A number that names the calling thread for the life of the process (a
/// `pthread_t` or a tid may be reused by a later thread; this is not).
pub(crate) fn thread_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static KEY: Cell<u64> = const { Cell::new(0) };
    }
    KEY.with(|key| match key.get() {
        0 => {
            let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
            key.set(fresh);
            fresh
        }
        known => known,
    })
}

/// The handle to a ring's fixed-file table, returned by
/// [`Ring::register_files`] and [`Ring::register_files_sparse`].
///
/// It is the only source of [`Fixed`] targets, each checked against the
/// table's size and borrowed from the handle, and it is consumed by
/// [`Ring::unregister_files`]: no `Fixed` outlives its registration. What
/// changes the files in the table (updating slots, closing one, installing
/// a direct descriptor at a slot) needs the handle exclusively, through
/// `&mut` or a [`FixedMut`], so no op using a slot's file can be in flight
/// meanwhile.
#[derive(Debug)]
pub struct FixedFiles {
    ring: u32,
    len: u32,
}

impl FixedFiles {
    /// The number of slots in the table.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the table has no slot.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot at `index`, as an op target; an error if the table has no
    /// such slot.
    pub fn get(&self, index: u32) -> Result<Fixed<'_>> {
        self.check(index)?;
        Ok(Fixed::new(index, self.ring))
    }

    /// The slot at `index`, held exclusively: for ops that close the file
    /// there or replace it (`Close`, [`DirectSlot::at`](crate::DirectSlot::at)).
    pub fn get_mut(&mut self, index: u32) -> Result<FixedMut<'_>> {
        self.check(index)?;
        Ok(FixedMut::new(index, self.ring))
    }

    /// Several distinct slots held exclusively at once (to close several
    /// files in one scope); an error if an index repeats or is outside the
    /// table.
    pub fn get_many_mut<const N: usize>(&mut self, indices: [u32; N]) -> Result<[FixedMut<'_>; N]> {
        for (i, &index) in indices.iter().enumerate() {
            self.check(index)?;
            if indices[..i].contains(&index) {
                return Err(Error::InvalidArgument(format!(
                    "fixed-file index {index} is asked for twice"
                )));
            }
        }
        Ok(indices.map(|index| FixedMut::new(index, self.ring)))
    }

    /// Every slot, in order.
    pub fn iter(&self) -> impl Iterator<Item = Fixed<'_>> + '_ {
        (0..self.len).map(|index| Fixed::new(index, self.ring))
    }

    fn check(&self, index: u32) -> Result<()> {
        if index < self.len {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "fixed-file index {index} is outside the table of {} files",
                self.len
            )))
        }
    }
}

/// The handle to a ring's registered buffers, returned by
/// [`Ring::register_buffers`] and consumed by [`Ring::unregister_buffers`].
#[derive(Debug)]
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

/// A registered personality: the credentials of the task that registered
/// it, which an op can run with (`.personality(p)`) whatever the submitting
/// task's credentials are then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Personality {
    id: u16,
    ring: u32,
}

impl Personality {
    /// The id the kernel gave it.
    pub const fn id(self) -> u16 {
        self.id
    }
}

/// One rule of a ring's restrictions (`struct io_uring_restriction`),
/// registered on a ring created disabled, before [`Ring::enable`].
#[derive(Clone, Copy)]
pub struct Restriction(sys::io_uring_restriction);

impl Restriction {
    fn new(opcode: u16, arg: u8) -> Restriction {
        Restriction(sys::io_uring_restriction {
            opcode,
            arg: sys::io_uring_restriction_arg { sqe_op: arg },
            resv: 0,
            resv2: [0; 3],
        })
    }

    /// Allows the op `E`.
    pub fn op<E: Entry>() -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_OP, E::CODE)
    }

    /// Allows the opcode `code`.
    pub fn opcode(code: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_OP, code)
    }

    /// Allows the `io_uring_register(2)` opcode `opcode`
    /// (`sys::IORING_REGISTER_*`).
    pub fn register_op(opcode: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_REGISTER_OP, opcode)
    }

    /// Allows SQEs to carry the `IOSQE_*` bits of `flags`.
    pub fn sqe_flags_allowed(flags: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_FLAGS_ALLOWED, flags)
    }

    /// Requires every SQE to carry the `IOSQE_*` bits of `flags`.
    pub fn sqe_flags_required(flags: u8) -> Restriction {
        Restriction::new(sys::IORING_RESTRICTION_SQE_FLAGS_REQUIRED, flags)
    }
}

impl std::fmt::Debug for Restriction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SAFETY: every member of the union is a `u8`.
        let arg = unsafe { self.0.arg.sqe_op };
        f.debug_struct("Restriction")
            .field("opcode", &self.0.opcode)
            .field("arg", &arg)
            .finish()
    }
}

/// What [`Ring::cancel_sync`] cancels: requests matching a key (by
/// `user_data` unless another is named), the first or all of them.
#[derive(Clone, Copy, Debug)]
pub struct SyncCancel {
    addr: u64,
    fd: i32,
    flags: u32,
    opcode: u8,
    /// The ring a fixed file to match belongs to; 0 for none.
    ring: u32,
}

impl SyncCancel {
    /// The request with this `user_data`.
    pub fn user_data(user_data: u64) -> SyncCancel {
        SyncCancel {
            addr: user_data,
            fd: -1,
            flags: 0,
            opcode: 0,
            ring: 0,
        }
    }

    /// Requests on this file (a borrowed descriptor or a `Fixed` file).
    pub fn fd(target: impl IntoTarget) -> SyncCancel {
        let target = target.into_target();
        let fixed = if is_fixed(&target) {
            sys::IORING_ASYNC_CANCEL_FD_FIXED
        } else {
            0
        };
        SyncCancel {
            addr: 0,
            fd: target.raw(),
            flags: sys::IORING_ASYNC_CANCEL_FD | fixed,
            opcode: 0,
            ring: target.ring(),
        }
    }

    /// Requests of the op `E` (6.6).
    pub fn op<E: Entry>() -> SyncCancel {
        SyncCancel {
            addr: 0,
            fd: -1,
            flags: sys::IORING_ASYNC_CANCEL_OP,
            opcode: E::CODE,
            ring: 0,
        }
    }

    /// Every request of the ring.
    pub fn any() -> SyncCancel {
        SyncCancel {
            addr: 0,
            fd: -1,
            flags: sys::IORING_ASYNC_CANCEL_ANY,
            opcode: 0,
            ring: 0,
        }
    }

    /// All the requests that match, not only the first.
    pub fn all(mut self) -> SyncCancel {
        self.flags |= sys::IORING_ASYNC_CANCEL_ALL;
        self
    }
}

fn is_fixed<T: Target>(_: &T) -> bool {
    T::FIXED
}

/// The io-wq worker limits, per kind of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoWqWorkers {
    /// Workers for bounded work (regular files, block devices).
    pub bounded: u32,
    /// Workers for unbounded work (sockets, pipes, ...).
    pub unbounded: u32,
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// One `io_uring_register(2)` on this ring; `name` names the opcode in
    /// the error.
    pub(crate) fn register(
        &self,
        opcode: u32,
        arg: *const libc::c_void,
        nr_args: u32,
        name: &'static str,
    ) -> Result<u32> {
        // A ring without a descriptor (`registered_fd_only`) is named by
        // its registered index, on the thread that registered it.
        let (fd, opcode) = if self.fd >= 0 {
            (self.fd, opcode)
        } else if self.on_registering_thread() {
            (
                self.enter_fd,
                opcode | sys::IORING_REGISTER_USE_REGISTERED_RING,
            )
        } else {
            return Err(Error::os(
                name,
                std::io::Error::from_raw_os_error(libc::EBADF),
            ));
        };
        // SAFETY: every caller passes the argument its opcode expects, alive
        // for the call, and registers only memory it keeps valid.
        unsafe { sys::io_uring_register(fd, opcode, arg, nr_args) }.map_err(|e| Error::os(name, e))
    }

    fn check_handle(&self, ring: u32, what: &str) -> Result<()> {
        if ring == self.id {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "these {what} were registered with another ring"
            )))
        }
    }

    /// Registers `files` as the fixed-file table (`IORING_REGISTER_FILES`).
    /// The kernel holds its own references: the descriptors may be closed
    /// afterwards.
    pub fn register_files(&mut self, files: &[BorrowedFd<'_>]) -> Result<FixedFiles> {
        let fds: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
        let len = u32::try_from(fds.len())
            .map_err(|_| Error::InvalidArgument("too many files to register".into()))?;
        self.register(
            sys::IORING_REGISTER_FILES,
            fds.as_ptr().cast(),
            len,
            "IORING_REGISTER_FILES",
        )?;
        Ok(FixedFiles { ring: self.id, len })
    }

    /// Registers an empty fixed-file table of `len` slots, to fill later with
    /// [`update_files`](Ring::update_files) or direct descriptors
    /// (`IORING_RSRC_REGISTER_SPARSE`, 5.19; older kernels get a table of
    /// `-1` entries).
    pub fn register_files_sparse(&mut self, len: u32) -> Result<FixedFiles> {
        if len > sys::IORING_MAX_FIXED_FILES {
            return Err(Error::InvalidArgument(format!(
                "a fixed-file table holds at most {} files, not {len}",
                sys::IORING_MAX_FIXED_FILES
            )));
        }
        let reg = sys::io_uring_rsrc_register {
            nr: len,
            flags: sys::IORING_RSRC_REGISTER_SPARSE,
            ..Default::default()
        };
        let sparse = self.register(
            sys::IORING_REGISTER_FILES2,
            (&reg as *const sys::io_uring_rsrc_register).cast(),
            mem::size_of::<sys::io_uring_rsrc_register>() as u32,
            "IORING_REGISTER_FILES2",
        );
        match sparse {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                let fds = vec![-1i32; len as usize];
                self.register(
                    sys::IORING_REGISTER_FILES,
                    fds.as_ptr().cast(),
                    len,
                    "IORING_REGISTER_FILES",
                )?;
            }
            Err(e) => return Err(e),
        }
        Ok(FixedFiles { ring: self.id, len })
    }

    /// Replaces the slots `offset ..` of the table with `files` (`None`
    /// empties a slot), returning how many slots were updated
    /// (`IORING_REGISTER_FILES_UPDATE`).
    pub fn update_files(
        &mut self,
        table: &mut FixedFiles,
        offset: u32,
        files: &[Option<BorrowedFd<'_>>],
    ) -> Result<u32> {
        self.check_handle(table.ring, "files")?;
        let fits = u32::try_from(files.len())
            .ok()
            .and_then(|n| offset.checked_add(n))
            .is_some_and(|end| end <= table.len);
        if !fits {
            return Err(Error::InvalidArgument(format!(
                "updating {} slots at {offset} overruns the table of {} files",
                files.len(),
                table.len
            )));
        }
        let fds: Vec<i32> = files
            .iter()
            .map(|f| f.map_or(-1, |f| f.as_raw_fd()))
            .collect();
        let update = sys::io_uring_files_update {
            offset,
            resv: 0,
            fds: fds.as_ptr() as u64,
        };
        self.register(
            sys::IORING_REGISTER_FILES_UPDATE,
            (&update as *const sys::io_uring_files_update).cast(),
            fds.len() as u32,
            "IORING_REGISTER_FILES_UPDATE",
        )
    }

    /// Unregisters the fixed-file table (`IORING_UNREGISTER_FILES`). On
    /// failure the handle comes back in the error.
    pub fn unregister_files(
        &mut self,
        table: FixedFiles,
    ) -> std::result::Result<(), HandleError<FixedFiles>> {
        let ring = table.ring;
        self.unregister(
            table,
            ring,
            "files",
            sys::IORING_UNREGISTER_FILES,
            "IORING_UNREGISTER_FILES",
        )
    }

    /// Unregisters what `handle` names with `opcode`, if `handle` belongs to
    /// this ring; hands it back otherwise, or if the kernel refuses.
    fn unregister<H>(
        &mut self,
        handle: H,
        ring: u32,
        what: &str,
        opcode: u32,
        name: &'static str,
    ) -> std::result::Result<(), HandleError<H>> {
        let result = self
            .check_handle(ring, what)
            .and_then(|()| self.register(opcode, std::ptr::null(), 0, name));
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(HandleError { error, handle }),
        }
    }

    /// Registers `buffers` for fixed-buffer ops (`IORING_REGISTER_BUFFERS`):
    /// the kernel pins their pages.
    ///
    /// # Safety
    ///
    /// The kernel reads and writes this memory through fixed-buffer ops for
    /// as long as it stays registered: it must remain allocated and not be
    /// used in conflict with those ops until [`unregister_buffers`]
    /// (`Ring::unregister_buffers`) returns or the ring is closed and its
    /// ops completed.
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

    /// Sets the most io-wq workers this ring's task may run, per kind of
    /// work (`IORING_REGISTER_IOWQ_MAX_WORKERS`, 5.15); a 0 leaves that limit
    /// as it is. Returns the limits that were in force before.
    pub fn set_iowq_max_workers(&mut self, limits: IoWqWorkers) -> Result<IoWqWorkers> {
        let mut values = [limits.bounded, limits.unbounded];
        self.register(
            sys::IORING_REGISTER_IOWQ_MAX_WORKERS,
            values.as_mut_ptr().cast(),
            2,
            "IORING_REGISTER_IOWQ_MAX_WORKERS",
        )?;
        Ok(IoWqWorkers {
            bounded: values[sys::IO_WQ_BOUND],
            unbounded: values[sys::IO_WQ_UNBOUND],
        })
    }

    /// The io-wq worker limits in force.
    pub fn iowq_max_workers(&mut self) -> Result<IoWqWorkers> {
        self.set_iowq_max_workers(IoWqWorkers {
            bounded: 0,
            unbounded: 0,
        })
    }

    /// Runs this ring's io-wq workers only on `cpus`
    /// (`IORING_REGISTER_IOWQ_AFF`, 5.14).
    pub fn set_iowq_affinity(&mut self, cpus: &[usize]) -> Result<()> {
        // SAFETY: all-zero bytes are an empty `cpu_set_t`.
        let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(Error::InvalidArgument(format!("CPU {cpu} is out of range")));
            }
            // SAFETY: `cpu` is below CPU_SETSIZE, checked above.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        self.register(
            sys::IORING_REGISTER_IOWQ_AFF,
            (&set as *const libc::cpu_set_t).cast(),
            mem::size_of::<libc::cpu_set_t>() as u32,
            "IORING_REGISTER_IOWQ_AFF",
        )
        .map(drop)
    }

    /// Lets io-wq workers run on any CPU again (`IORING_UNREGISTER_IOWQ_AFF`).
    pub fn clear_iowq_affinity(&mut self) -> Result<()> {
        self.register(
            sys::IORING_UNREGISTER_IOWQ_AFF,
            std::ptr::null(),
            0,
            "IORING_UNREGISTER_IOWQ_AFF",
        )
        .map(drop)
    }

    /// Registers the ring's own descriptor with the ring
    /// (`IORING_REGISTER_RING_FDS`, 5.18): later enters pass its index with
    /// `IORING_ENTER_REGISTERED_RING` and skip the file lookup. Returns the
    /// index.
    ///
    /// The registration belongs to the calling thread (the kernel keeps it
    /// in that thread's table): enters from other threads use the
    /// descriptor, and a ring that moved threads should call
    /// [`unregister_ring_fd`](Ring::unregister_ring_fd) from the thread that
    /// registered it, or the registration lasts until that thread exits.
    pub fn register_ring_fd(&mut self) -> Result<u32> {
        if self.enter_flags != 0 {
            if self.on_registering_thread() {
                return Ok(self.enter_fd as u32);
            }
            return Err(Error::InvalidArgument(
                "the ring fd is registered by another thread".into(),
            ));
        }
        let mut update = sys::io_uring_rsrc_update {
            offset: u32::MAX,
            resv: 0,
            data: self.fd as u64,
        };
        let registered = self.register(
            sys::IORING_REGISTER_RING_FDS,
            (&mut update as *mut sys::io_uring_rsrc_update).cast(),
            1,
            "IORING_REGISTER_RING_FDS",
        )?;
        if registered != 1 {
            return Err(Error::os(
                "IORING_REGISTER_RING_FDS",
                std::io::Error::from_raw_os_error(libc::EBUSY),
            ));
        }
        self.enter_fd = update.offset as i32;
        self.enter_flags = sys::IORING_ENTER_REGISTERED_RING;
        self.registered_by = thread_key();
        Ok(update.offset)
    }

    pub(crate) fn on_registering_thread(&self) -> bool {
        thread_key() == self.registered_by
    }

    /// Unregisters the ring fd; later enters use the descriptor again. Only
    /// the thread that registered it can (see
    /// [`register_ring_fd`](Ring::register_ring_fd)).
    pub fn unregister_ring_fd(&mut self) -> Result<()> {
        if self.enter_flags == 0 {
            return Ok(());
        }
        if self.fd < 0 {
            return Err(Error::InvalidArgument(
                "a ring made with registered_fd_only has only its registered index".into(),
            ));
        }
        self.release_ring_fd()
    }

    /// Unregisters the registered ring fd, the ring's last name when it has
    /// no descriptor.
    pub(crate) fn release_ring_fd(&mut self) -> Result<()> {
        if self.enter_flags == 0 {
            return Ok(());
        }
        if !self.on_registering_thread() {
            return Err(Error::InvalidArgument(
                "the ring fd is registered by another thread".into(),
            ));
        }
        let update = sys::io_uring_rsrc_update {
            offset: self.enter_fd as u32,
            resv: 0,
            data: 0,
        };
        self.register(
            sys::IORING_UNREGISTER_RING_FDS,
            (&update as *const sys::io_uring_rsrc_update).cast(),
            1,
            "IORING_UNREGISTER_RING_FDS",
        )?;
        self.enter_fd = self.fd;
        self.enter_flags = 0;
        Ok(())
    }

    /// The index of the registered ring fd, if [`register_ring_fd`]
    /// (`Ring::register_ring_fd`) registered it.
    ///
    /// [`register_ring_fd`]: Ring::register_ring_fd
    pub fn registered_ring_fd(&self) -> Option<u32> {
        (self.enter_flags != 0).then_some(self.enter_fd as u32)
    }

    /// Registers the calling task's credentials as a personality
    /// (`IORING_REGISTER_PERSONALITY`, 5.6).
    pub fn register_personality(&mut self) -> Result<Personality> {
        let id = self.register(
            sys::IORING_REGISTER_PERSONALITY,
            std::ptr::null(),
            0,
            "IORING_REGISTER_PERSONALITY",
        )?;
        Ok(Personality {
            id: id as u16,
            ring: self.id,
        })
    }

    /// Unregisters a personality (`IORING_UNREGISTER_PERSONALITY`); ops that
    /// name it afterwards fail with `EINVAL`.
    pub fn unregister_personality(&mut self, personality: Personality) -> Result<()> {
        self.check_handle(personality.ring, "personality")?;
        self.register(
            sys::IORING_UNREGISTER_PERSONALITY,
            std::ptr::null(),
            u32::from(personality.id),
            "IORING_UNREGISTER_PERSONALITY",
        )
        .map(drop)
    }

    /// Limits what the ring may do to `rules` (`IORING_REGISTER_RESTRICTIONS`,
    /// 5.10): only the ops, register calls and SQE flags they allow. Only on
    /// a ring created with [`Builder::r_disabled`](crate::Builder::r_disabled),
    /// before [`enable`](Ring::enable), and once.
    pub fn register_restrictions(&mut self, rules: &[Restriction]) -> Result<()> {
        let len = u32::try_from(rules.len())
            .map_err(|_| Error::InvalidArgument("too many restrictions".into()))?;
        self.register(
            sys::IORING_REGISTER_RESTRICTIONS,
            rules.as_ptr().cast(),
            len,
            "IORING_REGISTER_RESTRICTIONS",
        )
        .map(drop)
    }

    /// Cancels the requests `what` names and waits until they are gone,
    /// cancelled or completed (`IORING_REGISTER_SYNC_CANCEL`, 6.0): when it
    /// returns, the kernel no longer uses their memory. Their completions
    /// are posted as usual. [`Error::TimedOut`] if `timeout` passes first;
    /// an `ENOENT` error when nothing matched.
    pub fn cancel_sync(&mut self, what: SyncCancel, timeout: Option<Duration>) -> Result<()> {
        if what.ring != 0 {
            self.check_handle(what.ring, "files")?;
        }
        let timeout = match timeout {
            // The kernel adds the timeout to the current time, as for waits.
            Some(t) => Timespec::for_wait(t).into_raw(),
            None => sys::__kernel_timespec {
                tv_sec: -1,
                tv_nsec: -1,
            },
        };
        let reg = sys::io_uring_sync_cancel_reg {
            addr: what.addr,
            fd: what.fd,
            flags: what.flags,
            timeout,
            opcode: what.opcode,
            ..Default::default()
        };
        loop {
            match self.register(
                sys::IORING_REGISTER_SYNC_CANCEL,
                (&reg as *const sys::io_uring_sync_cancel_reg).cast(),
                1,
                "IORING_REGISTER_SYNC_CANCEL",
            ) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => return Err(Error::TimedOut),
                other => return other.map(drop),
            }
        }
    }

    /// Makes direct descriptors that ask the kernel to pick a slot
    /// (`IORING_FILE_INDEX_ALLOC`) take one of `table`'s slots
    /// `offset .. offset + len` (`IORING_REGISTER_FILE_ALLOC_RANGE`, 6.0).
    pub fn set_file_alloc_range(
        &mut self,
        table: &FixedFiles,
        offset: u32,
        len: u32,
    ) -> Result<()> {
        self.check_handle(table.ring, "files")?;
        let range = sys::io_uring_file_index_range {
            off: offset,
            len,
            resv: 0,
        };
        self.register(
            sys::IORING_REGISTER_FILE_ALLOC_RANGE,
            (&range as *const sys::io_uring_file_index_range).cast(),
            0,
            "IORING_REGISTER_FILE_ALLOC_RANGE",
        )
        .map(drop)
    }

    /// Busy-polls the network device for `busy_poll` before sleeping in a
    /// wait (`IORING_REGISTER_NAPI`, 6.9); with `prefer_busy_poll`, prefers
    /// busy polling to interrupts. Returns the settings in force before.
    pub fn register_napi(
        &mut self,
        busy_poll: Duration,
        prefer_busy_poll: bool,
    ) -> Result<(Duration, bool)> {
        let mut napi = sys::io_uring_napi {
            busy_poll_to: u32::try_from(busy_poll.as_micros()).unwrap_or(u32::MAX),
            prefer_busy_poll: u8::from(prefer_busy_poll),
            ..Default::default()
        };
        self.register(
            sys::IORING_REGISTER_NAPI,
            (&mut napi as *mut sys::io_uring_napi).cast(),
            1,
            "IORING_REGISTER_NAPI",
        )?;
        Ok((
            Duration::from_micros(u64::from(napi.busy_poll_to)),
            napi.prefer_busy_poll != 0,
        ))
    }

    /// Stops busy polling (`IORING_UNREGISTER_NAPI`).
    pub fn unregister_napi(&mut self) -> Result<()> {
        let mut napi = sys::io_uring_napi::default();
        self.register(
            sys::IORING_UNREGISTER_NAPI,
            (&mut napi as *mut sys::io_uring_napi).cast(),
            1,
            "IORING_UNREGISTER_NAPI",
        )
        .map(drop)
    }

    /// Signals `eventfd` whenever a completion is posted
    /// (`IORING_REGISTER_EVENTFD`); with `async_only`, only for completions
    /// of requests that went async (`IORING_REGISTER_EVENTFD_ASYNC`).
    pub fn register_eventfd(&mut self, eventfd: BorrowedFd<'_>, async_only: bool) -> Result<()> {
        let fd = eventfd.as_raw_fd();
        let (opcode, name) = if async_only {
            (
                sys::IORING_REGISTER_EVENTFD_ASYNC,
                "IORING_REGISTER_EVENTFD_ASYNC",
            )
        } else {
            (sys::IORING_REGISTER_EVENTFD, "IORING_REGISTER_EVENTFD")
        };
        self.register(opcode, (&fd as *const i32).cast(), 1, name)
            .map(drop)
    }

    /// Stops signalling the registered eventfd (`IORING_UNREGISTER_EVENTFD`).
    pub fn unregister_eventfd(&mut self) -> Result<()> {
        self.register(
            sys::IORING_UNREGISTER_EVENTFD,
            std::ptr::null(),
            0,
            "IORING_UNREGISTER_EVENTFD",
        )
        .map(drop)
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
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

    /// Posts a completion with `res` and `user_data` to this ring, from no
    /// ring: a `MsgRing` without a ring to send it
    /// (`IORING_REGISTER_SEND_MSG_RING`, 6.13). The ring is borrowed, so no
    /// scope of it is running: the completion is a plain message.
    pub fn post(&self, res: i32, user_data: u64) -> Result<()> {
        let sqe = sys::io_uring_sqe {
            opcode: sys::IORING_OP_MSG_RING,
            fd: self.as_raw_fd(),
            len: res as u32,
            off: sys::io_uring_sqe_off { off: user_data },
            addr: sys::io_uring_sqe_addr {
                addr: sys::IORING_MSG_DATA,
            },
            ..Default::default()
        };
        // SAFETY: the SQE is a data message to this ring, whose descriptor is
        // open while `self` is borrowed; it names no memory.
        unsafe {
            sys::io_uring_register(
                -1,
                sys::IORING_REGISTER_SEND_MSG_RING,
                (&sqe as *const sys::io_uring_sqe).cast(),
                1,
            )
        }
        .map(drop)
        .map_err(|e| Error::os("IORING_REGISTER_SEND_MSG_RING", e))
    }
}
