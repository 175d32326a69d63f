//! `io_uring_register(2)`: files, buffers, the ring fd, eventfds, io-wq
//! workers, personalities, restrictions, synchronous cancellation, NAPI.
//! Registration returns handles, not bare integers.

mod buffers;
mod control;
mod files;
mod napi;

pub use buffers::FixedBuffers;
pub use control::{IoWqWorkers, Personality, Restriction, SyncCancel};
pub(crate) use control::{SqeRules, no_request_matched};
pub use files::{FixedFiles, SlotUpdate};
pub use napi::{NapiSettings, NapiTracking};

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, HandleError, Result};
use crate::ring::Ring;
use crate::sys;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The `IORING_UNREGISTER_RING_FDS` entry that names the calling
/// thread's registered ring `index`.
pub(crate) fn ring_index_update(index: std::os::fd::RawFd) -> sys::io_uring_rsrc_update {
    sys::io_uring_rsrc_update {
        offset: index as u32,
        resv: 0,
        data: 0,
    }
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

    /// Registers an empty table of `len` slots with `opcode`
    /// (`IORING_REGISTER_FILES2` or `IORING_REGISTER_BUFFERS2`, with
    /// `IORING_RSRC_REGISTER_SPARSE`), named `name` in errors.
    pub(crate) fn register_sparse(&self, opcode: u32, len: u32, name: &'static str) -> Result<u32> {
        let reg = sys::io_uring_rsrc_register {
            nr: len,
            flags: sys::IORING_RSRC_REGISTER_SPARSE,
            ..Default::default()
        };
        self.register_rsrc(opcode, &reg, name)
    }

    /// Registers a table as `reg` describes it with `opcode`
    /// (`IORING_REGISTER_FILES2` or `IORING_REGISTER_BUFFERS2`), named
    /// `name` in errors. What `reg` points to must be what the opcode reads,
    /// alive for the call.
    pub(crate) fn register_rsrc(
        &self,
        opcode: u32,
        reg: &sys::io_uring_rsrc_register,
        name: &'static str,
    ) -> Result<u32> {
        self.register(
            opcode,
            (reg as *const sys::io_uring_rsrc_register).cast(),
            std::mem::size_of::<sys::io_uring_rsrc_register>() as u32,
            name,
        )
    }

    /// Updates a table as `update` describes it with `opcode`
    /// (`IORING_REGISTER_FILES_UPDATE2` or `IORING_REGISTER_BUFFERS_UPDATE`),
    /// named `name` in errors; returns how many slots were updated. What
    /// `update` points to must be what the opcode reads, alive for the call.
    pub(crate) fn update_rsrc(
        &self,
        opcode: u32,
        update: &sys::io_uring_rsrc_update2,
        name: &'static str,
    ) -> Result<u32> {
        self.register(
            opcode,
            (update as *const sys::io_uring_rsrc_update2).cast(),
            std::mem::size_of::<sys::io_uring_rsrc_update2>() as u32,
            name,
        )
    }

    /// Records that the kernel may post completions with these resource
    /// tags as `user_data`, chosen by the program: from now on no scope of
    /// the ring takes a completion without a scope tag for one of its ops'
    /// (see the scope module's clean rings).
    pub(crate) fn note_tags(&self, tags: &[u64]) {
        if tags.iter().any(|&t| t != 0) {
            self.outside.set(true);
        }
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
                "a ring without a descriptor (registered_fd_only, close_ring_fd) has only its \
                 registered index"
                    .into(),
            ));
        }
        self.release_ring_fd()
    }

    /// Closes the ring's descriptor, leaving the index that
    /// [`register_ring_fd`](Ring::register_ring_fd) registered as the
    /// ring's only name (liburing's `io_uring_close_ring_fd`; register
    /// calls through the index need `IORING_FEAT_REG_REG_RING`, 6.3). The
    /// ring then behaves as one made with
    /// [`registered_fd_only`](crate::Builder::registered_fd_only): only the
    /// registering thread can enter it or register with it (elsewhere,
    /// calls fail with `EBADF`), [`as_raw_fd`](std::os::fd::AsRawFd) is
    /// -1, and what needs the descriptor fails: `MsgRing` to it,
    /// [`post`](Ring::post), new buffer rings, resizing a ring whose queues
    /// the kernel allocated (`EBADF`), cloning its registered buffers into
    /// another ring (`EBADF`), sharing its worker pool (`ENXIO`). A
    /// [`BufRing`](crate::BufRing) made before keeps its own duplicate of
    /// the descriptor, and with it the kernel's ring. Dropping the ring on
    /// the registering thread releases the index and with it the kernel's
    /// ring; dropped elsewhere, the kernel's ring lives until that thread
    /// exits.
    ///
    /// An [`InvalidArgument`](Error::InvalidArgument) error when the
    /// descriptor is not registered, is registered by another thread, or is
    /// closed already; [`Unsupported`](Error::Unsupported) on a kernel
    /// without `IORING_FEAT_REG_REG_RING`, where the index cannot name the
    /// ring in register calls (nor release it on drop).
    pub fn close_ring_fd(&mut self) -> Result<()> {
        if self.enter_flags == 0 {
            return Err(Error::InvalidArgument(
                "the ring fd is not registered (register_ring_fd)".into(),
            ));
        }
        if !self.on_registering_thread() {
            return Err(Error::InvalidArgument(
                "the ring fd is registered by another thread".into(),
            ));
        }
        if self.fd < 0 {
            return Err(Error::InvalidArgument(
                "the ring has no descriptor to close".into(),
            ));
        }
        if !self.params.has(crate::Features::REG_REG_RING) {
            return Err(Error::Unsupported(
                "register calls through the registered ring fd (IORING_FEAT_REG_REG_RING, 6.3)",
            ));
        }
        let fd = std::mem::replace(&mut self.fd, -1);
        // SAFETY: `fd` is the ring's own descriptor, which it owns; with
        // `self.fd` at -1 every later enter and register call goes through
        // the registered index, and whatever the ring lent the descriptor
        // to borrowed the ring, which `&mut self` shows no longer happens.
        unsafe { sys::close(fd) }.map_err(|e| Error::os("close", e))
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
        let update = ring_index_update(self.enter_fd);
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
}
