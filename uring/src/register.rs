//! `io_uring_register(2)`: files, buffers, the ring fd, eventfds, io-wq
//! workers. Registration returns handles, not bare integers.

use crate::args::FixedBuf;
use crate::error::{Error, HandleError, Result};
use crate::ring::Ring;
use crate::sys;
use crate::types::Fixed;
use std::cell::Cell;
use std::io::IoSliceMut;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// A number that names the calling thread for the life of the process (a
/// `pthread_t` or a tid may be reused by a later thread; this is not).
fn thread_key() -> u64 {
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
/// table's size, and it is consumed by [`Ring::unregister_files`].
#[derive(Debug)]
pub struct FixedFiles {
    ring: u64,
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
    pub fn get(&self, index: u32) -> Result<Fixed> {
        if index < self.len {
            Ok(Fixed(index))
        } else {
            Err(Error::InvalidArgument(format!(
                "fixed-file index {index} is outside the table of {} files",
                self.len
            )))
        }
    }

    /// Every slot, in order.
    pub fn iter(&self) -> impl Iterator<Item = Fixed> + '_ {
        (0..self.len).map(Fixed)
    }
}

/// The handle to a ring's registered buffers, returned by
/// [`Ring::register_buffers`] and consumed by [`Ring::unregister_buffers`].
#[derive(Debug)]
pub struct FixedBuffers {
    ring: u64,
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

/// The io-wq worker limits, per kind of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoWqWorkers {
    /// Workers for bounded work (regular files, block devices).
    pub bounded: u32,
    /// Workers for unbounded work (sockets, pipes, ...).
    pub unbounded: u32,
}

impl Ring {
    /// One `io_uring_register(2)` on this ring; `name` names the opcode in
    /// the error.
    pub(crate) fn register(
        &self,
        opcode: u32,
        arg: *const libc::c_void,
        nr_args: u32,
        name: &'static str,
    ) -> Result<u32> {
        // SAFETY: every caller passes the argument its opcode expects, alive
        // for the call, and registers only memory it keeps valid.
        unsafe { sys::io_uring_register(self.fd, opcode, arg, nr_args) }
            .map_err(|e| Error::os(name, e))
    }

    fn check_handle(&self, ring: u64, what: &str) -> Result<()> {
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
        table: &FixedFiles,
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
        ring: u64,
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
